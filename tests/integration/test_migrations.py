"""The migration runners remember what they applied (read back by column name) and refuse a changed file."""

from __future__ import annotations

import shutil

import pytest

from finops.db import migrate
from finops.db import postgres as postgres_db
from tests.conftest import CLICKHOUSE_SQL, POSTGRES_SQL


def test_clickhouse_migrations_applied_twice_apply_nothing_new_and_refuse_a_changed_file(clickhouse, tmp_path):
    database = clickhouse.database
    assert migrate.apply_migrations(clickhouse, database, CLICKHOUSE_SQL) == []
    changed = tmp_path / "sql"
    shutil.copytree(CLICKHOUSE_SQL, changed)
    first = sorted(changed.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited after it was applied\n")
    with pytest.raises(RuntimeError, match="changed after it was applied"):
        migrate.apply_migrations(clickhouse, database, changed)


def test_postgres_migrations_applied_twice_apply_nothing_new_and_refuse_a_changed_file(postgres, tmp_path):
    assert postgres_db.apply_migrations(postgres, POSTGRES_SQL) == []
    changed = tmp_path / "sql"
    shutil.copytree(POSTGRES_SQL, changed)
    first = sorted(changed.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited after it was applied\n")
    with pytest.raises(RuntimeError, match="changed after it was applied"):
        postgres_db.apply_migrations(postgres, changed)
