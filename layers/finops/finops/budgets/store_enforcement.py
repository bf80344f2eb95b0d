"""PostgreSQL: what enforcement checks keep between requests: the estimates of allowed operations reserved
against budgets (finops_budget_reservations) and the decisions answered per Idempotency-Key
(finops_enforcement_checks)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pg8000.native import Connection

from finops.db.postgres import named_rows, unnest

# How long an enforcement check's Idempotency-Key is remembered (a retry comes within seconds or minutes).
IDEMPOTENCY_KEY_HOURS = 24


def reserved_amounts(conn: Connection, budget_ids: Sequence[str], now: datetime) -> dict[str, Decimal]:
    if not budget_ids:
        return {}
    rows = named_rows(
        conn,
        "SELECT budget_id, sum(amount) AS reserved FROM finops_budget_reservations "
        "WHERE budget_id = ANY(CAST(:ids AS uuid[])) AND expires_at > :now GROUP BY budget_id",
        ids=list(budget_ids),
        now=now,
    )
    return {str(row["budget_id"]): Decimal(row["reserved"]) for row in rows}


def add_reservations(conn: Connection, amounts: dict[str, Decimal], operation_type: str, expires_at: datetime) -> None:
    """Reserve an allowed operation's estimated cost against several budgets (each in its own currency), in one
    statement."""
    if not amounts:
        return
    conn.run(
        "INSERT INTO finops_budget_reservations (budget_id, amount, operation_type, expires_at) "
        "SELECT id, amount, :operation, :expires FROM " + unnest(id="uuid", amount="numeric"),
        id=list(amounts),
        amount=list(amounts.values()),
        operation=operation_type,
        expires=expires_at,
    )


def purge_expired(conn: Connection, now: datetime) -> None:
    """Forget reservations that expired and Idempotency-Keys past their time."""
    conn.run("DELETE FROM finops_budget_reservations WHERE expires_at <= :now", now=now)
    conn.run(
        "DELETE FROM finops_enforcement_checks WHERE created_at < :since",
        since=now - timedelta(hours=IDEMPOTENCY_KEY_HOURS),
    )


@dataclass(frozen=True)
class StoredDecision:
    fingerprint: str
    decision: dict[str, Any]


def claim_idempotency_key(conn: Connection, scope: str, key: str, fingerprint: str) -> bool:
    """Take the key for this check inside the caller's transaction; False when another check holds it (a
    concurrent duplicate blocks here until the first commits, then finds the key taken)."""
    rows = conn.run(
        "INSERT INTO finops_enforcement_checks (scope, idempotency_key, fingerprint) VALUES (:scope, :key, :fp) "
        "ON CONFLICT DO NOTHING RETURNING 1",
        scope=scope,
        key=key,
        fp=fingerprint,
    )
    return bool(rows)


def save_idempotent_decision(conn: Connection, scope: str, key: str, decision: dict[str, Any]) -> None:
    conn.run(
        "UPDATE finops_enforcement_checks SET decision = CAST(:decision AS jsonb) "
        "WHERE scope = :scope AND idempotency_key = :key",
        scope=scope,
        key=key,
        decision=json.dumps(decision),
    )


def idempotent_decision(conn: Connection, scope: str, key: str) -> StoredDecision | None:
    """The decision a check with this key answered, if one did (and is still remembered)."""
    rows = named_rows(
        conn,
        "SELECT fingerprint, decision FROM finops_enforcement_checks "
        "WHERE scope = :scope AND idempotency_key = :key AND decision IS NOT NULL",
        scope=scope,
        key=key,
    )
    if not rows:
        return None
    decision = rows[0]["decision"]
    return StoredDecision(rows[0]["fingerprint"], decision if isinstance(decision, dict) else json.loads(decision))
