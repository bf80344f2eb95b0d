"""The daily check (EventBridge, 02:00 UTC): refresh every live budget's spend, roll periods, fire due events,
store forecasts and spend snapshots, then publish what was queued.

Safe to run twice (events are once per period, snapshots are upserts). Budgets are handled in chunks, one
transaction each: the chunk's budgets are locked in one statement and their events, evaluations, forecasts and
snapshots written in one statement each. If anything in a chunk fails, the chunk is rolled back and done again
budget by budget with a savepoint each: a failing budget is logged with its id and skipped without undoing or
stopping the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from pg8000.native import Connection

from finops.budgets import store, store_enforcement
from finops.budgets.alerts import record_with_alerts
from finops.budgets.evaluation import due, locked_with_spend
from finops.budgets.periods import BudgetPeriod
from finops.budgets.policy import percent_used
from finops.budgets.service import Budgets
from finops.budgets.spend import Spend
from finops.budgets.store import BudgetRecord
from finops.budgets.store_events import NewEvent
from finops.db.postgres import savepoint, transaction
from finops.observability import logger

if TYPE_CHECKING:
    from finops.budgets.forecasts import BudgetForecast


@dataclass
class DailyCheckReport:
    budgets: int = 0
    events: int = 0
    failed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Day:
    """What the check read before taking any lock: each budget's spend and forecast, and when."""

    today: date
    spend: dict[str, Spend]
    forecasts: dict[str, BudgetForecast]
    forecast_as_of: datetime


def daily_check(service: Budgets, *, today: date | None = None, chunk: int = 200) -> DailyCheckReport:
    today = today or datetime.now(UTC).date()
    conn = service.conn
    budgets = store.live_budgets(conn)
    from finops.budgets.forecasts import forecast_budgets, history_start  # numpy: only the daily check pays for it

    # One read of the cost rows for the spend and the forecasts' daily history.
    spend, daily = service.spend_reader.spend_and_daily(budgets, today, daily_since=history_start(today))
    forecasts = forecast_budgets(budgets, spend, daily, today)
    day = _Day(today, spend, forecasts, forecast_as_of=datetime.now(UTC))
    report = DailyCheckReport(budgets=len(budgets))
    for start in range(0, len(budgets), chunk):
        part = budgets[start : start + chunk]
        try:
            with transaction(conn):
                report.events += _check(conn, part, day)
        except Exception:
            logger.warning(
                "daily check: a chunk failed; doing its budgets one by one",
                exc_info=True,
                extra={"budgets": len(part)},
            )
            with transaction(conn):
                report.events += _one_by_one(conn, part, day, report.failed)
    store_enforcement.purge_expired(conn, datetime.now(UTC))
    service.notifier.after_commit(conn, backlog=True)
    return report


def _check(conn: Connection, budgets: Sequence[BudgetRecord], day: _Day) -> int:
    """The daily check of some budgets in the caller's transaction, every write batched (one statement each for
    the events, evaluations, forecasts and snapshots); returns the number of events fired."""
    events: list[tuple[NewEvent, BudgetPeriod]] = []
    evaluations: list[store.Evaluation] = []
    forecasts: list[store.ForecastValues] = []
    snapshots: list[store.Snapshot] = []
    # The readings were taken before the forecasts; a fresher one saved meanwhile (by an ingestion or an
    # enforcement check) wins, so no threshold is lifted on stale spend.
    for read, budget, spend in locked_with_spend(conn, budgets, day.spend):
        period = spend.period
        if period is None:  # not started yet
            continue
        percent = percent_used(spend.amount, budget.amount)
        due_events, evaluation = due(budget, spend, source="daily_check")
        events += due_events
        if evaluation is not None:
            evaluations.append(evaluation)
        forecast = day.forecasts.get(read.id)
        forecasts.append(
            store.ForecastValues(
                budget_id=budget.id,
                expected_spend=forecast.expected_spend if forecast else None,
                probability=forecast.probability_over if forecast else None,
                breach_date=forecast.breach_date if forecast else None,
                as_of=day.forecast_as_of,
            )
        )
        if forecast is not None and forecast.exceeds(budget.amount):
            exceeds = NewEvent(
                budget=budget,
                event_type="forecast_exceeds",
                severity="warning",
                source="daily_check",
                period_start=period.start,
                spent=spend.amount,
                percent_used=percent,
                details=_forecast_details(forecast),
            )
            events.append((exceeds, period))
        snapshots.append(store.Snapshot(budget=budget, period_start=period.start, spent=spend.amount, percent=percent))
    fired = record_with_alerts(conn, events)
    store.save_evaluations(conn, evaluations)
    store.save_forecasts(conn, forecasts)
    store.upsert_spend_snapshots(conn, snapshots, snapshot_date=day.today)
    return fired


def _one_by_one(conn: Connection, budgets: Sequence[BudgetRecord], day: _Day, failed: list[str]) -> int:
    """The daily check of some budgets with a savepoint each (after their chunk failed); returns events fired."""
    fired = 0
    for budget in budgets:
        try:
            with savepoint(conn):
                checked = _check(conn, [budget], day)
        except Exception:
            failed.append(budget.id)
            logger.exception("daily check failed for a budget", extra={"budget_id": budget.id})
            continue
        fired += checked
    return fired


def _forecast_details(forecast: BudgetForecast) -> dict[str, Any]:
    return {
        "expectedSpend": str(forecast.expected_spend),
        "probability": forecast.probability_over,
        "breachDate": forecast.breach_date.isoformat() if forecast.breach_date else None,
    }
