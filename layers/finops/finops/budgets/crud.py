"""Creating, reading, updating and deleting budgets, and reading their audit trail. Each change is recorded as an
event in its own transaction, with the e-mail subscription changes it needs (see `service` for the rules)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from finops.auth import Permission, Principal
from finops.budgets import store, subscriptions
from finops.budgets.evaluation import evaluate
from finops.budgets.models import Budget, BudgetCreate, BudgetEventPage, BudgetList, BudgetUpdate
from finops.budgets.service import Budgets
from finops.budgets.store import BudgetRecord
from finops.budgets.store_events import NewEvent, list_events, record_event
from finops.db.postgres import transaction
from finops.errors import InvalidRequest, PreconditionFailed
from finops.models.common import CURRENCY

# Changes after which the thresholds of the current period may fire again.
_RE_ARMING_FIELDS = {
    "amount",
    "period",
    "start_date",
    "categories",
    "models",
    "regions",
    "services",
    "notify_threshold",
    "enforce_threshold",
}


class PreconditionRequired(PreconditionFailed):
    status_code = 428


def create(service: Budgets, principal: Principal, request: BudgetCreate) -> Budget:
    principal.require(Permission.MANAGE_BUDGETS, request.tenant_id)
    if request.currency != CURRENCY and not service.exchange_rates().has_rate(request.currency, request.start_date):
        raise InvalidRequest(
            f"no exchange rate for {request.currency} on {request.start_date.isoformat()}: a budget's spend is "
            "converted into its currency from its start date on; publish rates first "
            "(POST /v1/analytics/finops/exchange-rates)",
            field="currency",
            location="body",
        )
    conn = service.conn
    with transaction(conn):
        budget = store.insert_budget(conn, request, actor=principal.subject)
        record_event(conn, NewEvent(budget, "created", "info", "api", actor=principal.subject))
        subscriptions.on_create(conn, budget)
    service.notifier.after_commit(conn, subscriptions=True)
    return budget.to_api()


def get(service: Budgets, principal: Principal, budget_id: str) -> Budget:
    return service.visible(principal, budget_id, Permission.READ_BUDGETS, include_deleted=True).to_api()


def list_for_tenant(service: Budgets, principal: Principal, tenant_id: str, *, include_deleted: bool) -> BudgetList:
    principal.require(Permission.READ_BUDGETS, tenant_id)
    budgets = store.list_budgets(service.conn, tenant_id, include_deleted=include_deleted)
    return BudgetList(budgets=[b.to_api() for b in budgets])


def update(
    service: Budgets, principal: Principal, budget_id: str, update: BudgetUpdate, *, if_match: str | None
) -> Budget:
    expected = _expected_version(update.version, if_match)
    budget = service.visible(principal, budget_id, Permission.MANAGE_BUDGETS)
    _require_version(budget, expected)
    changes = _changes(budget, update)
    if not changes:
        return budget.to_api()
    # A change can put spend back under a threshold (lifting enforcement) or over one: decide now, on spend
    # read for the budget as it will be, before any row is locked.
    today = datetime.now(UTC).date()
    reading = service.spend_reader.spend([replace(budget, **changes)], today)[budget.id]
    conn = service.conn
    with transaction(conn):
        budget = service.visible(principal, budget_id, Permission.MANAGE_BUDGETS, for_update=True)
        _require_version(budget, expected)
        updated = store.update_budget(conn, budget, changes, bump_generation=bool(_RE_ARMING_FIELDS & set(changes)))
        details = {k: {"from": _jsonable(getattr(budget, k)), "to": _jsonable(v)} for k, v in changes.items()}
        record_event(conn, NewEvent(updated, "updated", "info", "api", actor=principal.subject, details=details))
        evaluate(conn, updated, reading, source="api", force=True)
        subscriptions.on_update(conn, updated, changes)
    service.notifier.after_commit(conn, subscriptions=True)
    return store.get_budget(conn, updated.id).to_api()  # type: ignore[union-attr]


def delete(service: Budgets, principal: Principal, budget_id: str, *, hard: bool) -> None:
    conn = service.conn
    with transaction(conn):
        budget = service.visible(principal, budget_id, Permission.MANAGE_BUDGETS, for_update=True, include_deleted=hard)
        record_event(conn, NewEvent(budget, "deleted", "info", "api", actor=principal.subject, details={"hard": hard}))
        if hard:
            store.hard_delete(conn, budget)
        else:
            store.soft_delete(conn, budget)
        subscriptions.on_delete(conn, budget)
    service.notifier.after_commit(conn, subscriptions=True)


def events(
    service: Budgets, principal: Principal, budget_id: str, *, limit: int, cursor: str | None
) -> BudgetEventPage:
    budget = service.visible(principal, budget_id, Permission.READ_BUDGETS, include_deleted=True)
    found, next_cursor = list_events(service.conn, budget.id, limit=limit, cursor=cursor)
    return BudgetEventPage(events=found, next_cursor=next_cursor)


def _require_version(budget: BudgetRecord, expected: int) -> None:
    if budget.version != expected:
        raise PreconditionFailed(f"version {expected} is stale; the budget is at version {budget.version}")


def _expected_version(body_version: int | None, if_match: str | None) -> int:
    header = None
    if if_match:
        text = if_match.strip().removeprefix("W/").strip('"')
        # ASCII digits only (str.isdigit() also takes "²", which int() refuses), at most a version's ten (a PostgreSQL
        # integer; int() refuses thousands of digits).
        if not (text.isascii() and text.isdigit() and len(text) <= 10):
            raise InvalidRequest(
                'If-Match must carry the budget\'s version, e.g. If-Match: "3"', field="If-Match", location="header"
            )
        header = int(text)
    if header is not None and body_version is not None and header != body_version:
        raise InvalidRequest("If-Match and version disagree", field="version", location="body")
    version = header if header is not None else body_version
    if version is None:
        raise PreconditionRequired("send the budget's current version (If-Match header or `version` field)")
    return version


def _changes(budget: BudgetRecord, update: BudgetUpdate) -> dict[str, Any]:
    """The columns a partial update changes (its policy, if given, was validated whole)."""
    return {k: v for k, v in store.request_columns(update).items() if _normalised(getattr(budget, k)) != _normalised(v)}


def _normalised(value: Any) -> Any:
    return list(value) if isinstance(value, tuple | list) else value


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value
