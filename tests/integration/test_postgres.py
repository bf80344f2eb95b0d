"""The PostgreSQL helpers every store uses, against the embedded server."""

from __future__ import annotations

from finops.db.postgres import named_rows


def test_named_rows_keys_each_row_by_its_column_names(postgres):
    rows = named_rows(
        postgres, "SELECT n AS number, n * 2 AS doubled FROM generate_series(1, :last) AS n ORDER BY n", last=2
    )
    assert rows == [{"number": 1, "doubled": 2}, {"number": 2, "doubled": 4}]


def test_named_rows_of_no_rows_or_of_a_statement_without_rows_is_empty(postgres):
    postgres.run("CREATE TEMPORARY TABLE named_rows_probe (id integer)")
    assert named_rows(postgres, "SELECT id FROM named_rows_probe") == []
    assert named_rows(postgres, "UPDATE named_rows_probe SET id = 1") == []
