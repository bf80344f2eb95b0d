"""The PostgreSQL helpers every store uses, against the embedded server."""

from __future__ import annotations

import pytest

from finops.db.postgres import named_rows, savepoint, transaction


def test_named_rows_keys_each_row_by_its_column_names(postgres):
    rows = named_rows(
        postgres, "SELECT n AS number, n * 2 AS doubled FROM generate_series(1, :last) AS n ORDER BY n", last=2
    )
    assert rows == [{"number": 1, "doubled": 2}, {"number": 2, "doubled": 4}]


def test_named_rows_of_no_rows_or_of_a_statement_without_rows_is_empty(postgres):
    postgres.run("CREATE TEMPORARY TABLE named_rows_probe (id integer)")
    assert named_rows(postgres, "SELECT id FROM named_rows_probe") == []
    assert named_rows(postgres, "UPDATE named_rows_probe SET id = 1") == []


def test_a_failing_savepoint_undoes_only_its_own_work_and_the_transaction_goes_on(postgres):
    postgres.run("CREATE TEMPORARY TABLE savepoint_probe (id integer)")
    with transaction(postgres):
        postgres.run("INSERT INTO savepoint_probe VALUES (1)")
        with pytest.raises(RuntimeError), savepoint(postgres):
            postgres.run("INSERT INTO savepoint_probe VALUES (2)")
            raise RuntimeError("this step fails")
        with savepoint(postgres):
            postgres.run("INSERT INTO savepoint_probe VALUES (3)")
    assert named_rows(postgres, "SELECT id FROM savepoint_probe ORDER BY id") == [{"id": 1}, {"id": 3}]
