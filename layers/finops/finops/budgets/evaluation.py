"""Bringing budgets up to date with their spend: the state it puts each one in and the events that makes due
(recorded with their alerts), in the caller's transaction. Right after ingestion (`evaluate_tenants`), in
enforcement checks and updates (`evaluate`), and in the daily check (`due`, batched there)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from pg8000.native import Connection

from finops.budgets import store
from finops.budgets.alerts import record_with_alerts
from finops.budgets.periods import BudgetPeriod
from finops.budgets.policy import due_events, percent_used, state_for
from finops.budgets.service import Budgets
from finops.budgets.spend import Spend
from finops.budgets.store import BudgetRecord, Evaluation
from finops.budgets.store_events import NewEvent
from finops.db.postgres import transaction
from finops.models.common import MICRO, quantize


def evaluate_tenants(service: Budgets, tenants: Sequence[str]) -> int:
    """Right after ingestion: bring the tenants' budgets up to date so thresholds fire within seconds,
    not at the next nightly run. Spend is read with no lock held. Returns the number of events fired."""
    budgets = store.live_budgets(service.conn, tenants=tenants)
    if not budgets:
        return 0
    readings = service.spend_reader.spend(budgets, datetime.now(UTC).date())
    fired = 0
    with transaction(service.conn):
        for _, budget, spend in locked_with_spend(service.conn, budgets, readings):
            fired += evaluate(service.conn, budget, spend, source="realtime")
    if fired:
        service.notifier.after_commit(service.conn)
    return fired


def evaluate(conn: Connection, budget: BudgetRecord, spend: Spend, *, source: str, force: bool = False) -> int:
    """Record the state spend puts the budget in and the events that makes due; returns the events fired.
    `force`: attempt every due event even if the stored state says they exist (after a change that re-arms the
    thresholds)."""
    events, evaluation = due(budget, spend, source=source, force=force)
    fired = record_with_alerts(conn, events)
    if evaluation is not None:
        store.save_evaluations(conn, [evaluation])
    return fired


def due(
    budget: BudgetRecord, spend: Spend, *, source: str, force: bool = False
) -> tuple[list[tuple[NewEvent, BudgetPeriod]], Evaluation | None]:
    """The events the spend makes due for the budget (each with its period), and the evaluation to save (None
    when the budget row already holds exactly it)."""
    if spend.period is None:
        return [], None
    period = spend.period
    percent = percent_used(spend.amount, budget.amount)
    state = state_for(budget.policy_view, percent)
    evaluation = Evaluation(budget.id, spend.amount, spend.as_of, state, period.start)
    # A budget's state is saved in the transaction that records the events it makes due, for its period and
    # threshold generation (a change that bumps the generation evaluates with `force`). So while neither the
    # period nor the state changes, those events exist already: no need to try them again.
    if not force and budget.period_start == period.start and budget.state == state:
        if budget.spend_as_of == spend.as_of and budget.spent == _as_stored(spend.amount):
            return [], None  # the row holds this evaluation already
        return [], evaluation
    new_period = budget.period_start is not None and budget.period_start != period.start
    events = [
        (
            NewEvent(
                budget=budget,
                event_type=event.event_type,
                severity=event.severity,
                source=source,
                period_start=period.start,
                threshold_percent=event.threshold_percent,
                spent=spend.amount,
                percent_used=percent,
            ),
            period,
        )
        for event in due_events(budget.policy_view, budget.state, percent, new_period=new_period)
    ]
    return events, evaluation


def locked_with_spend(
    conn: Connection, budgets: Sequence[BudgetRecord], readings: dict[str, Spend]
) -> list[tuple[BudgetRecord, BudgetRecord, Spend]]:
    """Lock budgets read earlier (spend was read for them with no lock held) and give each live one as read, as
    locked, and with the spend to evaluate it on: the fresher of the reading and what its row holds."""
    locked = store.lock_budgets(conn, budgets)
    live = []
    for read in budgets:
        budget = locked.get(read.id)
        if budget is not None and budget.deleted_at is None:
            live.append((read, budget, _freshest(budget, _reading_for(budget, read, readings[read.id]))))
    return live


def _freshest(budget: BudgetRecord, reading: Spend) -> Spend:
    """The fresher of a spend reading and the one the locked budget row holds (saved by any path: an ingestion,
    a check in another container, the daily check). So the stored spend never moves back to an older reading,
    and a lift of enforcement is only ever decided on spend at least as fresh as the decision it reverses."""
    if (
        reading.period is not None
        and budget.spend_as_of is not None
        and budget.period_start == reading.period.start
        and budget.spend_as_of > reading.as_of
    ):
        return Spend(budget.spent, budget.spend_as_of, reading.period)
    return reading


def _reading_for(locked: BudgetRecord, read: BudgetRecord, reading: Spend) -> Spend:
    """A reading taken for the budget as it was read before locking; if it changed meanwhile (filters, amount,
    period), the reading may not match it: fall back to what its row holds (saved by that change)."""
    if locked.version == read.version or reading.period is None:
        return reading
    return Spend(locked.spent, locked.spend_as_of or reading.as_of, reading.period)


def _as_stored(amount: Decimal) -> Decimal:
    """An amount as the numeric(38, 6) column stores it (PostgreSQL rounds half away from zero)."""
    return quantize(amount, MICRO, ROUND_HALF_UP)
