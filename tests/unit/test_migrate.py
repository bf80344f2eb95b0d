import re
from pathlib import Path

from finops.db.migrate import load_migrations, render_for_cluster, sharded_tables, split_statements

SQL = Path(__file__).resolve().parents[2] / "sql" / "clickhouse"


def test_statements_split_on_line_ending_semicolons_and_skip_comments():
    text = "-- a comment;\nCREATE TABLE a (x String DEFAULT ';') ENGINE = Log;\n\n-- only a comment\nSELECT 1;\n"
    assert split_statements(text) == ["CREATE TABLE a (x String DEFAULT ';') ENGINE = Log", "SELECT 1"]


def test_migrations_are_numbered_uniquely_in_order():
    versions = [m.version for m in load_migrations(SQL)]
    assert versions == sorted(set(versions))


def test_cluster_form_shards_every_tenant_table_and_rewires_views():
    migrations = load_migrations(SQL)
    sharded = sharded_tables(migrations)
    assert {"usage_events", "cost_facts", "usage_event_ids", "usage_ingest_log"} <= sharded
    assert "rate_card" not in sharded
    rendered = [s for m in migrations for s in render_for_cluster(m.statements, "finops", sharded)]
    text = "\n".join(rendered)
    for table in sharded:
        assert f"CREATE TABLE IF NOT EXISTS {table}_local ON CLUSTER 'finops'" in text
        assert f"Distributed('finops', currentDatabase(), {table}_local, cityHash64(tenant_id))" in text
    assert "ENGINE = Replicated" in text and "ENGINE = ReplacingMergeTree" not in text
    views = [s for s in rendered if "MATERIALIZED VIEW" in s]
    # Each view writes to and reads from the shard's local tables (the Distributed ones would re-shard every insert).
    assert views and all("_local AS" in v and re.search(r"\bFROM \w+_local\b", v) for v in views)
    assert "'/clickhouse/tables/all/{database}/rate_card'" in text
