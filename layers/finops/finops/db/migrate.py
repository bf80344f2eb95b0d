"""Forward-only ClickHouse migrations from `sql/clickhouse/NNN_<name>.sql`, recorded in `schema_migrations`.

Single node (local stack, tests, a one-server deployment): the files run as written.
Cluster: `--cluster NAME` renders the same files for a replicated, sharded cluster, so the two never drift:
- a table with a `tenant_id` column becomes `<table>_local` (Replicated* engine, one replica set per shard)
  plus a `Distributed` table under the original name, sharded by `cityHash64(tenant_id)` so each tenant's
  rows, merges and FINAL de-duplication stay on one shard;
- a table without `tenant_id` (the rate card) is replicated to every node under its own name;
- materialized views are created on every node and read and write the `_local` tables;
- `ALTER TABLE` of a sharded table alters both the `_local` tables and the `Distributed` one;
- `DROP VIEW` drops a materialized view on every node.
The application queries the original names either way.

Usage: python -m finops.db.migrate [--sql-dir sql/clickhouse] [--cluster NAME --print]
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from clickhouse_connect.driver.client import Client

MIGRATIONS_TABLE = "schema_migrations"
_FILE_PATTERN = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
_CREATE_TABLE = re.compile(r"^CREATE TABLE IF NOT EXISTS (\w+)\s*\n?\(", re.IGNORECASE)
_CREATE_MV = re.compile(r"^CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+) TO (\w+) AS", re.IGNORECASE)
_ALTER_TABLE = re.compile(r"^ALTER TABLE (\w+) ", re.IGNORECASE)
_DROP_VIEW = re.compile(r"^DROP VIEW IF EXISTS (\w+)", re.IGNORECASE)
_ENGINE = re.compile(r"ENGINE = (\w*MergeTree)(?:\(([^)]*)\))?")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]
    checksum: str


def load_migrations(sql_dir: Path) -> list[Migration]:
    migrations = []
    for path in sorted(sql_dir.glob("*.sql")):
        match = _FILE_PATTERN.match(path.name)
        if not match:
            raise ValueError(f"migration file name must look like NNN_name.sql: {path.name}")
        text = path.read_text()
        migrations.append(
            Migration(
                version=int(match.group(1)),
                name=path.stem,
                statements=tuple(split_statements(text)),
                checksum=hashlib.sha256(text.encode()).hexdigest(),
            )
        )
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise ValueError(f"two migrations share a number in {sql_dir}")
    return migrations


def split_statements(text: str) -> list[str]:
    """Split on semicolons that end a line; drop comment-only chunks."""
    statements = []
    for chunk in re.split(r";\s*(?:\n|$)", text):
        code = "\n".join(line for line in chunk.splitlines() if not line.strip().startswith("--")).strip()
        if code:
            statements.append(code)
    return statements


def apply_migrations(client: Client, database: str, sql_dir: Path, *, cluster: str | None = None) -> list[str]:
    """Create the database if needed and apply what is new; returns the names applied."""
    on_cluster = f" ON CLUSTER '{cluster}'" if cluster else ""
    client.command(f"CREATE DATABASE IF NOT EXISTS {_identifier(database)}{on_cluster}")
    client.command(
        f"CREATE TABLE IF NOT EXISTS {_identifier(database)}.{MIGRATIONS_TABLE}{on_cluster} "
        "(version UInt32, name String, checksum String, applied_at DateTime64(6, 'UTC') DEFAULT now64(6)) "
        + (
            f"ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{{database}}/{MIGRATIONS_TABLE}', '{{replica}}')"
            if cluster
            else "ENGINE = MergeTree"
        )
        + " ORDER BY version"
    )
    applied = {
        row["version"]: row["checksum"]
        for row in client.query(
            f"SELECT version, checksum FROM {_identifier(database)}.{MIGRATIONS_TABLE}"
        ).named_results()
    }
    done = []
    previous_database, client.database = client.database, database  # the files use unqualified names
    try:
        done = _apply_new(client, database, sql_dir, applied, cluster)
    finally:
        client.database = previous_database
    return done


def _apply_new(client: Client, database: str, sql_dir: Path, applied: dict[int, str], cluster: str | None) -> list[str]:
    done = []
    migrations = load_migrations(sql_dir)
    sharded = sharded_tables(migrations)
    for migration in migrations:
        if migration.version in applied:
            if applied[migration.version] != migration.checksum:
                raise RuntimeError(
                    f"migration {migration.name} changed after it was applied; add a new migration instead"
                )
            continue
        statements = render_for_cluster(migration.statements, cluster, sharded) if cluster else migration.statements
        for statement in statements:
            client.command(statement)
        client.insert(
            f"{_identifier(database)}.{MIGRATIONS_TABLE}",
            [[migration.version, migration.name, migration.checksum]],
            column_names=["version", "name", "checksum"],
        )
        done.append(migration.name)
    return done


def sharded_tables(migrations: list[Migration]) -> set[str]:
    """Tables that carry a tenant_id column: sharded by tenant on a cluster."""
    return {
        m.group(1)
        for migration in migrations
        for s in migration.statements
        if (m := _CREATE_TABLE.match(s)) and re.search(r"\btenant_id\b", s)
    }


def render_for_cluster(statements: tuple[str, ...] | list[str], cluster: str, sharded: set[str]) -> list[str]:
    """The cluster form of single-node DDL (see the module docstring)."""
    rendered: list[str] = []
    for statement in statements:
        if table_match := _CREATE_TABLE.match(statement):
            table = table_match.group(1)
            local = f"{table}_local" if table in sharded else table
            replica_path = (
                f"'/clickhouse/tables/{{shard}}/{{database}}/{local}'"
                if table in sharded
                else (f"'/clickhouse/tables/all/{{database}}/{local}'")
            )
            ddl = statement.replace(
                f"CREATE TABLE IF NOT EXISTS {table}", f"CREATE TABLE IF NOT EXISTS {local} ON CLUSTER '{cluster}'", 1
            )
            ddl = _ENGINE.sub(functools.partial(_replicated_engine, replica_path=replica_path), ddl, count=1)
            rendered.append(ddl)
            if table in sharded:
                rendered.append(
                    f"CREATE TABLE IF NOT EXISTS {table} ON CLUSTER '{cluster}' AS {local} "
                    f"ENGINE = Distributed('{cluster}', currentDatabase(), {local}, cityHash64(tenant_id))"
                )
        elif mv_match := _CREATE_MV.match(statement):
            view, target = mv_match.group(1), mv_match.group(2)
            ddl = statement.replace(
                mv_match.group(0),
                f"CREATE MATERIALIZED VIEW IF NOT EXISTS {view} ON CLUSTER '{cluster}' TO "
                f"{target + '_local' if target in sharded else target} AS",
                1,
            )
            for table in sharded:
                ddl = re.sub(rf"\bFROM {table}\b", f"FROM {table}_local", ddl)
            rendered.append(ddl)
        elif alter_match := _ALTER_TABLE.match(statement):
            # A sharded table changes in both its forms: the local tables and the Distributed one over them.
            table = alter_match.group(1)
            targets = [f"{table}_local", table] if table in sharded else [table]
            rendered += [
                statement.replace(alter_match.group(0), f"ALTER TABLE {target} ON CLUSTER '{cluster}' ", 1)
                for target in targets
            ]
        elif drop_match := _DROP_VIEW.match(statement):
            rendered.append(statement.replace(drop_match.group(0), f"{drop_match.group(0)} ON CLUSTER '{cluster}'", 1))
        else:
            rendered.append(statement)
    return rendered


def _replicated_engine(engine: re.Match[str], replica_path: str) -> str:
    name, arguments = engine.group(1), engine.group(2)
    return f"ENGINE = Replicated{name}({replica_path}, '{{replica}}'" + (f", {arguments})" if arguments else ")")


def _identifier(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"not a valid database name: {name!r}")
    return name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sql-dir", type=Path, default=Path("sql/clickhouse"))
    parser.add_argument("--cluster", help="render (and apply) the replicated, distributed form for this cluster")
    parser.add_argument("--print", action="store_true", help="print the statements instead of applying them")
    args = parser.parse_args(argv)
    if args.print:
        migrations = load_migrations(args.sql_dir)
        sharded = sharded_tables(migrations)
        for migration in migrations:
            statements = (
                render_for_cluster(migration.statements, args.cluster, sharded)
                if args.cluster
                else migration.statements
            )
            print(f"-- {migration.name}")
            for statement in statements:
                print(statement + ";\n")
        return 0
    from finops.db.clickhouse import connect
    from finops.settings import get_settings

    applied = apply_migrations(connect(), get_settings().clickhouse_database, args.sql_dir, cluster=args.cluster)
    print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none new'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
