"""What the budget endpoints and the daily check do; handlers call these and nothing else.

Every state change and the events it causes are written in one PostgreSQL transaction (with the outbox rows
of their notifications); notifications are published after the commit, and whatever could not be published
stays pending for the next run. Threshold events are unique per budget, period and threshold generation in
the database, so the real-time path and the daily job can never both fire one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from pg8000.native import Connection

from finops.auth import Permission, Principal
from finops.budgets import store
from finops.budgets.models import (
    Budget,
    BudgetCreate,
    BudgetEventPage,
    BudgetList,
    BudgetPolicy,
    BudgetStatus,
    BudgetStatusList,
    BudgetUpdate,
    EnforcementCheck,
    EnforcementDecision,
)
from finops.budgets.periods import BudgetPeriod
from finops.budgets.policy import (
    DueEvent,
    active_actions,
    covers,
    decide,
    due_events,
    percent_used,
    state_for,
    strictest,
)
from finops.budgets.spend import Spend, SpendReader
from finops.budgets.store import BudgetRecord
from finops.currencies.rates import ExchangeRates, current_exchange_rates
from finops.db.faults import as_unavailable
from finops.db.postgres import transaction
from finops.errors import InvalidRequest, NotFound, PreconditionFailed
from finops.models.common import CURRENCY, MICRO, quantize
from finops.notifications.notifier import Notifier
from finops.notifications.outbox import Notification, enqueue_many
from finops.observability import add_count, logger
from finops.settings import get_settings

if TYPE_CHECKING:
    from finops.budgets.forecasts import BudgetForecast
NOT_FOUND = "budget not found"
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


@dataclass
class DailyCheckReport:
    budgets: int = 0
    events: int = 0
    failed: list[str] = field(default_factory=list)


class Budgets:
    """The budget use cases. The PostgreSQL connection is taken on first use (`connect`), so a request that
    fails to reach the database fails inside a use case, where enforcement can answer in degraded mode."""

    def __init__(
        self,
        *,
        spend_reader: SpendReader,
        notifier: Notifier | None = None,
        conn: Connection | None = None,
        connect: Callable[[], Connection] | None = None,
        exchange_rates: Callable[[], ExchangeRates] | None = None,
    ) -> None:
        if (conn is None) == (connect is None):
            raise ValueError("give either a connection or a way to connect")
        self.spend_reader = spend_reader
        # Budgets in another currency than USD: enforcement estimates (USD) are converted into theirs.
        self.exchange_rates = exchange_rates or (lambda: current_exchange_rates(self.spend_reader.client))
        self.notifier = notifier or Notifier()
        self._conn = conn
        self._connect = connect

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            assert self._connect is not None
            self._conn = self._connect()
        return self._conn

    # --- configuration -------------------------------------------------------------------------------------

    def create(self, principal: Principal, request: BudgetCreate) -> Budget:
        principal.require(Permission.MANAGE_BUDGETS, request.tenant_id)
        if request.currency != CURRENCY and not self.exchange_rates().has_rate(request.currency, request.start_date):
            raise InvalidRequest(
                f"no exchange rate for {request.currency} on {request.start_date.isoformat()}: a budget's spend is "
                "converted into its currency from its start date on; publish rates first "
                "(POST /v1/analytics/finops/exchange-rates)",
                field="currency",
                location="body",
            )
        with transaction(self.conn):
            budget = store.insert_budget(self.conn, request, actor=principal.subject)
            store.record_event(
                self.conn, budget, event_type="created", severity="info", source="api", actor=principal.subject
            )
            _enqueue_subscriptions(self.conn, budget, _topics_with_emails(budget))
        self.notifier.after_commit(self.conn, subscriptions=True)
        return budget.to_api()

    def get(self, principal: Principal, budget_id: str) -> Budget:
        return self._visible(principal, budget_id, Permission.READ_BUDGETS, include_deleted=True).to_api()

    def list_for_tenant(self, principal: Principal, tenant_id: str, *, include_deleted: bool) -> BudgetList:
        principal.require(Permission.READ_BUDGETS, tenant_id)
        budgets = store.list_budgets(self.conn, tenant_id, include_deleted=include_deleted)
        return BudgetList(budgets=[b.to_api() for b in budgets])

    def update(self, principal: Principal, budget_id: str, update: BudgetUpdate, *, if_match: str | None) -> Budget:
        expected = _expected_version(update.version, if_match)
        budget = self._visible(principal, budget_id, Permission.MANAGE_BUDGETS)
        _require_version(budget, expected)
        changes = _changes(budget, update)
        if not changes:
            return budget.to_api()
        # A change can put spend back under a threshold (lifting enforcement) or over one: decide now, on spend
        # read for the budget as it will be, before any row is locked.
        today = datetime.now(UTC).date()
        reading = self.spend_reader.spend([replace(budget, **changes)], today)[budget.id]
        with transaction(self.conn):
            budget = self._visible(principal, budget_id, Permission.MANAGE_BUDGETS, for_update=True)
            _require_version(budget, expected)
            updated = store.update_budget(
                self.conn, budget, changes, bump_generation=bool(_RE_ARMING_FIELDS & set(changes))
            )
            store.record_event(
                self.conn,
                updated,
                event_type="updated",
                severity="info",
                source="api",
                actor=principal.subject,
                details={k: {"from": _jsonable(getattr(budget, k)), "to": _jsonable(v)} for k, v in changes.items()},
            )
            self._evaluate(updated, reading, source="api", force=True)
            _enqueue_subscriptions(self.conn, updated, [t for t, column in _EMAIL_COLUMNS.items() if column in changes])
        self.notifier.after_commit(self.conn, subscriptions=True)
        return store.get_budget(self.conn, updated.id).to_api()  # type: ignore[union-attr]

    def delete(self, principal: Principal, budget_id: str, *, hard: bool) -> None:
        with transaction(self.conn):
            budget = self._visible(
                principal, budget_id, Permission.MANAGE_BUDGETS, for_update=True, include_deleted=hard
            )
            store.record_event(
                self.conn,
                budget,
                event_type="deleted",
                severity="info",
                source="api",
                actor=principal.subject,
                details={"hard": hard},
            )
            if hard:
                store.hard_delete(self.conn, budget)
            else:
                store.soft_delete(self.conn, budget)
            # Nobody is mailed about a deleted budget: its subscriptions go, through the outbox, so an SNS error
            # after this commit is retried rather than leaving a subscription behind.
            topics = set(_topics_with_emails(budget)) | set(store.subscribed_topics(self.conn, budget.id))
            _enqueue_subscriptions(self.conn, budget, sorted(topics))
        self.notifier.after_commit(self.conn, subscriptions=True)

    # --- status and audit trail ---------------------------------------------------------------------------

    def status(self, principal: Principal, budget_id: str) -> BudgetStatus:
        budget = self._visible(principal, budget_id, Permission.READ_BUDGETS)
        today = datetime.now(UTC).date()
        return _status(budget, self.spend_reader.spend([budget], today)[budget.id], today)

    def tenant_statuses(self, principal: Principal, tenant_id: str) -> BudgetStatusList:
        principal.require(Permission.READ_BUDGETS, tenant_id)
        budgets = store.live_budgets(self.conn, tenants=[tenant_id])
        today = datetime.now(UTC).date()
        spend = self.spend_reader.spend(budgets, today) if budgets else {}
        return BudgetStatusList(statuses=[_status(b, spend[b.id], today) for b in budgets])

    def events(self, principal: Principal, budget_id: str, *, limit: int, cursor: str | None) -> BudgetEventPage:
        budget = self._visible(principal, budget_id, Permission.READ_BUDGETS, include_deleted=True)
        events, next_cursor = store.list_events(self.conn, budget.id, limit=limit, cursor=cursor)
        return BudgetEventPage(events=events, next_cursor=next_cursor)

    # --- enforcement (the platform's hot path) ------------------------------------------------------------

    def check_budget(
        self, principal: Principal, budget_id: str, check: EnforcementCheck, *, idempotency_key: str | None = None
    ) -> EnforcementDecision:
        def budgets_to_weigh() -> list[BudgetRecord]:
            return [self._visible(principal, budget_id, Permission.CHECK_ENFORCEMENT)]

        return self._enforce(f"budget:{budget_id}", budgets_to_weigh, check, idempotency_key)

    def check_tenant(
        self, principal: Principal, tenant_id: str, check: EnforcementCheck, *, idempotency_key: str | None = None
    ) -> EnforcementDecision:
        principal.require(Permission.CHECK_ENFORCEMENT, tenant_id)
        return self._enforce(
            f"tenant:{tenant_id}", lambda: store.live_budgets(self.conn, tenants=[tenant_id]), check, idempotency_key
        )

    def _enforce(
        self,
        scope: str,
        budgets_to_weigh: Callable[[], list[BudgetRecord]],
        check: EnforcementCheck,
        idempotency_key: str | None,
    ) -> EnforcementDecision:
        """Weigh an operation against budgets: spend is read from ClickHouse with no lock held, then, under the
        budgets' row locks, each one's state is brought up to date with the freshest reading and the operation's
        estimate is reserved if allowed. With an Idempotency-Key, a retried check answers the first decision and
        reserves nothing more. A database that is down gives the configured degraded answer instead of an error."""
        fingerprint = f"{check.operation_type}|{check.estimated_cost_usd.normalize()}"
        try:
            if idempotency_key is not None and (answer := self._replay(scope, idempotency_key, fingerprint)):
                return answer
            budgets = budgets_to_weigh()
            covering = [b for b in budgets if covers(b.policy_view, check.operation_type)]
            now = datetime.now(UTC)
            readings = self.spend_reader.spend(covering, now.date()) if covering else {}
            estimates = self._estimates(covering, check.estimated_cost_usd, now.date())
            with transaction(self.conn):
                if idempotency_key is not None and not store.claim_idempotency_key(
                    self.conn, scope, idempotency_key, fingerprint
                ):
                    replayed = None  # a concurrent duplicate committed first: answer what it answered
                else:
                    decision = self._decide_locked(covering, readings, estimates, check, now)
                    if idempotency_key is not None:
                        store.save_idempotent_decision(
                            self.conn, scope, idempotency_key, decision.model_dump(mode="json", by_alias=True)
                        )
                    replayed = decision
            if replayed is None:
                answer = self._replay(scope, idempotency_key or "", fingerprint)
                assert answer is not None
                return answer
        except Exception as error:
            if (unavailable := as_unavailable(error)) is None:
                raise
            return _degraded(unavailable.dependency)
        self.notifier.after_commit(self.conn)
        return replayed

    def _replay(self, scope: str, key: str, fingerprint: str) -> EnforcementDecision | None:
        stored = store.idempotent_decision(self.conn, scope, key)
        if stored is None:
            return None
        if stored.fingerprint != fingerprint:
            raise InvalidRequest(
                "this Idempotency-Key was used for a different check; use a new key for a new operation",
                field="Idempotency-Key",
                location="header",
            )
        return EnforcementDecision.model_validate(stored.decision)

    def _estimates(self, budgets: Sequence[BudgetRecord], estimate_usd: Decimal, today: date) -> dict[str, Decimal]:
        """The operation's estimate (USD) in each budget's currency, at today's rate; read before any lock."""
        foreign = [b for b in budgets if b.currency != CURRENCY and estimate_usd > 0]
        rates = self.exchange_rates() if foreign else None
        return {
            b.id: rates.convert(estimate_usd, CURRENCY, b.currency, today) if rates and b in foreign else estimate_usd
            for b in budgets
        }

    def _decide_locked(
        self,
        covering: Sequence[BudgetRecord],
        readings: dict[str, Spend],
        estimates: dict[str, Decimal],
        check: EnforcementCheck,
        now: datetime,
    ) -> EnforcementDecision:
        """In the caller's transaction: lock the budgets, evaluate each with the freshest spend reading, weigh the
        operation with what is reserved, and reserve its estimate if it is allowed."""
        locked = store.lock_budgets(self.conn, covering)
        weighed = [b for b in covering if (current := locked.get(b.id)) is not None and current.deleted_at is None]
        reserved = store.reserved_amounts(self.conn, [b.id for b in weighed], now)
        decisions = []
        for read in weighed:
            budget = locked[read.id]
            spend = _freshest(budget, _reading_for(budget, read, readings[read.id]))
            self._evaluate(budget, spend, source="realtime")
            if spend.period is None:  # not started yet
                continue
            projected = spend.amount + reserved.get(budget.id, Decimal(0)) + estimates[read.id]
            decisions.append(decide(budget.policy_view, check.operation_type, percent_used(projected, budget.amount)))
        decision = strictest(decisions)
        if decision.allowed and check.estimated_cost_usd > 0 and weighed:
            expires = now + timedelta(seconds=get_settings().reservation_ttl_seconds)
            store.add_reservations(self.conn, {b.id: estimates[b.id] for b in weighed}, check.operation_type, expires)
        return decision

    def evaluate_tenants(self, tenants: Sequence[str]) -> int:
        """Right after ingestion: bring the tenants' budgets up to date so thresholds fire within seconds,
        not at the next nightly run. Spend is read with no lock held. Returns the number of events fired."""
        budgets = store.live_budgets(self.conn, tenants=tenants)
        if not budgets:
            return 0
        readings = self.spend_reader.spend(budgets, datetime.now(UTC).date())
        fired = 0
        with transaction(self.conn):
            locked = store.lock_budgets(self.conn, budgets)
            for read in budgets:
                budget = locked.get(read.id)
                if budget is None or budget.deleted_at is not None:
                    continue
                spend = _freshest(budget, _reading_for(budget, read, readings[read.id]))
                fired += len(self._evaluate(budget, spend, source="realtime"))
        if fired:
            self.notifier.after_commit(self.conn)
        return fired

    # --- the daily check (EventBridge, 02:00 UTC) -----------------------------------------------------------

    def daily_check(self, *, today: date | None = None, chunk: int = 200) -> DailyCheckReport:
        """Refresh every live budget's spend, roll periods, fire due events, snapshot spend, publish alerts.

        Safe to run twice (events are once per period, snapshots are upserts). Budgets are handled in chunks,
        one transaction each: the chunk's budgets are locked in one statement and their evaluations, forecasts
        and snapshots written in one statement each. If anything in a chunk fails, the chunk is rolled back and
        done again budget by budget with a savepoint each: a failing budget is logged with its id and skipped
        without undoing or stopping the others.
        """
        today = today or datetime.now(UTC).date()
        budgets = store.live_budgets(self.conn)
        spend = self.spend_reader.spend(budgets, today) if budgets else {}
        from finops.budgets.forecasts import forecast_budgets  # numpy: only the daily check pays for it

        forecasts = forecast_budgets(self.spend_reader.client, budgets, spend, today)
        forecast_as_of = datetime.now(UTC)
        report = DailyCheckReport(budgets=len(budgets))
        for start in range(0, len(budgets), chunk):
            part = budgets[start : start + chunk]
            try:
                with transaction(self.conn):
                    report.events += self._daily_chunk(part, spend, forecasts, forecast_as_of, today)
            except Exception:
                logger.warning(
                    "daily check: a chunk failed; doing its budgets one by one",
                    exc_info=True,
                    extra={"budgets": len(part)},
                )
                with transaction(self.conn):
                    report.events += self._daily_one_by_one(
                        part, spend, forecasts, forecast_as_of, today, report.failed
                    )
        store.purge_expired_reservations(self.conn, datetime.now(UTC))
        self.notifier.after_commit(self.conn, backlog=True)
        return report

    def _daily_chunk(
        self,
        budgets: Sequence[BudgetRecord],
        spend: dict[str, Spend],
        forecasts: dict[str, BudgetForecast],
        forecast_as_of: datetime,
        today: date,
    ) -> int:
        """The daily check of some budgets in the caller's transaction, every write batched (one statement
        each for the events, evaluations, forecasts and snapshots); returns the number of events fired."""
        locked = store.lock_budgets(self.conn, budgets)
        evaluations: list[store.Evaluation] = []
        saved_forecasts: list[store.ForecastValues] = []
        snapshots: list[store.Snapshot] = []
        events: list[store.NewEvent] = []
        for budget in budgets:
            current = locked.get(budget.id)
            if current is None or current.deleted_at is not None or spend[budget.id].period is None:
                continue
            # The reading was taken before the forecasts; a fresher one saved meanwhile (by an ingestion or an
            # enforcement check) wins, so no threshold is lifted on stale spend.
            budget_spend = _freshest(current, _reading_for(current, budget, spend[budget.id]))
            period = spend[budget.id].period
            assert period is not None  # checked above; _freshest keeps it
            percent = percent_used(budget_spend.amount, current.amount)
            due, evaluation = _due(current, budget_spend)
            if evaluation is not None:
                evaluations.append(evaluation)
            events += [
                store.NewEvent(
                    budget=current,
                    event_type=d.event_type,
                    severity=d.severity,
                    source="daily_check",
                    period_start=period.start,
                    threshold_percent=d.threshold_percent,
                    spent=budget_spend.amount,
                    percent_used=percent,
                )
                for d in due
            ]
            forecast = forecasts.get(budget.id)
            saved_forecasts.append(
                store.ForecastValues(
                    budget_id=current.id,
                    expected_spend=forecast.expected_spend if forecast else None,
                    probability=forecast.probability_over if forecast else None,
                    breach_date=forecast.breach_date if forecast else None,
                    as_of=forecast_as_of,
                )
            )
            if forecast is not None and forecast.exceeds(current.amount):
                events.append(
                    store.NewEvent(
                        budget=current,
                        event_type="forecast_exceeds",
                        severity="warning",
                        source="daily_check",
                        period_start=period.start,
                        spent=budget_spend.amount,
                        percent_used=percent,
                        details=_forecast_details(forecast),
                    )
                )
            snapshots.append(
                store.Snapshot(budget=current, period_start=period.start, spent=budget_spend.amount, percent=percent)
            )
        recorded = store.record_events(self.conn, events)
        notifications: list[Notification] = []
        for event in events:
            event_id = recorded.get((event.budget.id, event.event_type))
            if event_id is not None:
                event_period = spend[event.budget.id].period  # _freshest keeps the period
                assert event_period is not None and event.spent is not None and event.percent_used is not None
                notifications += _alerts(
                    event.budget,
                    event_id,
                    event.event_type,
                    event.severity,
                    event.threshold_percent,
                    event_period,
                    event.spent,
                    event.percent_used,
                    event.details,
                )
        enqueue_many(self.conn, notifications)  # one statement for the chunk's alerts
        store.save_evaluations(self.conn, evaluations)
        store.save_forecasts(self.conn, saved_forecasts)
        store.upsert_spend_snapshots(self.conn, snapshots, snapshot_date=today)
        return len(recorded)

    def _daily_one_by_one(
        self,
        budgets: Sequence[BudgetRecord],
        spend: dict[str, Spend],
        forecasts: dict[str, BudgetForecast],
        forecast_as_of: datetime,
        today: date,
        failed: list[str],
    ) -> int:
        """The daily check of some budgets with a savepoint each (after a chunk failed); returns events fired."""
        fired = 0
        for budget in budgets:
            self.conn.run("SAVEPOINT budget")
            try:
                locked = store.get_budget(self.conn, budget.id, for_update=True)
                if locked is None or locked.deleted_at is not None or spend[budget.id].period is None:
                    self.conn.run("RELEASE SAVEPOINT budget")
                    continue
                budget_spend = _freshest(locked, _reading_for(locked, budget, spend[budget.id]))
                events = len(self._evaluate(locked, budget_spend, source="daily_check"))
                events += self._record_forecast(locked, budget_spend, forecasts.get(budget.id), forecast_as_of)
                store.upsert_spend_snapshots(
                    self.conn,
                    [
                        store.Snapshot(
                            budget=locked,
                            period_start=budget_spend.period.start,  # type: ignore[union-attr]
                            spent=budget_spend.amount,
                            percent=percent_used(budget_spend.amount, locked.amount),
                        )
                    ],
                    snapshot_date=today,
                )
                self.conn.run("RELEASE SAVEPOINT budget")
                fired += events
            except Exception:
                self.conn.run("ROLLBACK TO SAVEPOINT budget")
                failed.append(budget.id)
                logger.exception("daily check failed for a budget", extra={"budget_id": budget.id})
        return fired

    def _record_forecast(
        self, budget: BudgetRecord, spend: Spend, forecast: BudgetForecast | None, as_of: datetime
    ) -> int:
        """Store the forecast (or clear a stale one); a forecast above the amount fires `forecast_exceeds`
        once per period. Returns the number of events fired."""
        store.save_forecasts(
            self.conn,
            [
                store.ForecastValues(
                    budget_id=budget.id,
                    expected_spend=forecast.expected_spend if forecast else None,
                    probability=forecast.probability_over if forecast else None,
                    breach_date=forecast.breach_date if forecast else None,
                    as_of=as_of,
                )
            ],
        )
        return self._forecast_event(budget, spend, forecast)

    def _forecast_event(self, budget: BudgetRecord, spend: Spend, forecast: BudgetForecast | None) -> int:
        """`forecast_exceeds` (once per period) when the forecast is above the amount; returns events fired."""
        if forecast is None or not forecast.exceeds(budget.amount) or spend.period is None:
            return 0
        percent = percent_used(spend.amount, budget.amount)
        details = _forecast_details(forecast)
        event_id = store.record_event(
            self.conn,
            budget,
            event_type="forecast_exceeds",
            severity="warning",
            source="daily_check",
            period_start=spend.period.start,
            spent=spend.amount,
            percent_used=percent,
            details=details,
        )
        if event_id is None:
            return 0
        enqueue_many(
            self.conn,
            _alerts(
                budget, event_id, "forecast_exceeds", "warning", None, spend.period, spend.amount, percent, details
            ),
        )
        return 1

    # --- evaluation, shared by the real-time path and the daily check ------------------------------------

    def _evaluate(self, budget: BudgetRecord, spend: Spend, *, source: str, force: bool = False) -> list[str]:
        """Record the state spend puts the budget in and the events that makes due; returns new event ids.
        `force`: attempt every due event even if the stored state says they exist (after a change that
        re-arms the thresholds)."""
        fired, evaluation = self._fire_due_events(budget, spend, source=source, force=force)
        if evaluation is not None:
            store.save_evaluations(self.conn, [evaluation])
        return fired

    def _fire_due_events(
        self, budget: BudgetRecord, spend: Spend, *, source: str, force: bool = False
    ) -> tuple[list[str], store.Evaluation | None]:
        """Record the events the spend makes due; returns their ids and the evaluation to save (None when the
        budget row already holds exactly it)."""
        due, evaluation = _due(budget, spend, force=force)
        if not due:
            return [], evaluation
        period, percent = spend.period, percent_used(spend.amount, budget.amount)
        assert period is not None
        fired = []
        for event in due:
            event_id = store.record_due_event(
                self.conn, budget, event, period_start=period.start, spent=spend.amount, percent=percent, source=source
            )
            if event_id is None:
                continue
            fired.append(event_id)
            enqueue_many(
                self.conn,
                _alerts(
                    budget,
                    event_id,
                    event.event_type,
                    event.severity,
                    event.threshold_percent,
                    period,
                    spend.amount,
                    percent,
                ),
            )
        return fired, evaluation

    # --- helpers --------------------------------------------------------------------------------------------

    def _visible(
        self,
        principal: Principal,
        budget_id: str,
        permission: Permission,
        *,
        for_update: bool = False,
        include_deleted: bool = False,
    ) -> BudgetRecord:
        """The budget, or 404 when it does not exist, is deleted, or belongs to a tenant the caller can't see
        (the same answer in every case, so ids of other tenants leak nothing)."""
        canonical = store.parse_budget_id(budget_id)
        budget = store.get_budget(self.conn, canonical, for_update=for_update) if canonical else None
        if budget is None or (budget.deleted_at is not None and not include_deleted):
            raise NotFound(NOT_FOUND)
        if not principal.can(Permission.READ_BUDGETS, budget.tenant_id):
            raise NotFound(NOT_FOUND)
        principal.require(permission, budget.tenant_id)
        return budget


def _alerts(
    budget: BudgetRecord,
    event_id: str,
    event_type: str,
    severity: str,
    threshold: Decimal | None,
    period: BudgetPeriod,
    spent: Decimal,
    percent: Decimal,
    details: dict[str, Any] | None = None,
) -> list[Notification]:
    """The notifications an event sends: to the alerts topic (`notify`) and to the admin topic (`alert_admins`)."""
    if event_type == "period_rollover":
        return []
    from finops.notifications.messages import compose_budget_alert

    topics = (["alerts"] if "notify" in budget.actions else []) + (
        ["admin"] if "alert_admins" in budget.actions else []
    )
    return [
        Notification(
            compose_budget_alert(
                event_id=event_id,
                event_type=event_type,
                severity=severity,
                tenant_id=budget.tenant_id,
                budget_id=budget.id,
                budget_name=budget.name,
                period_start=period.start,
                period_end=period.end,
                spent=spent,
                amount=budget.amount,
                percent_used=percent,
                threshold_percent=threshold,
                actions=list(budget.actions),
                topic=topic,  # type: ignore[arg-type]
                details=details,
                currency=budget.currency,
            ),
            event_id,
            budget.tenant_id,
            budget.id,
            event_type,
            severity,
        )
        for topic in topics
    ]


# The topic each of a budget's address lists is mailed on.
_EMAIL_COLUMNS = {"alerts": "notify_emails", "admin": "admin_emails"}


def _topics_with_emails(budget: BudgetRecord) -> list[str]:
    return [topic for topic, column in _EMAIL_COLUMNS.items() if getattr(budget, column)]


def _enqueue_subscriptions(conn: Connection, budget: BudgetRecord, topics: Sequence[str]) -> None:
    if topics:
        from finops.notifications.outbox import enqueue_subscription_sync

        enqueue_subscription_sync(conn, budget_id=budget.id, tenant_id=budget.tenant_id, topics=topics)


def _status(budget: BudgetRecord, spend: Spend, today: date) -> BudgetStatus:
    period = spend.period or BudgetPeriod(budget.start_date, budget.start_date)
    percent = percent_used(spend.amount, budget.amount)
    state = state_for(budget.policy_view, percent) if spend.period else "ok"
    return BudgetStatus(
        budget_id=budget.id,
        tenant_id=budget.tenant_id,
        name=budget.name,
        currency=budget.currency,
        amount=budget.amount,
        spent=spend.amount,
        remaining=max(budget.amount - spend.amount, Decimal(0)),
        percent_used=float(percent),
        state=state,
        active_actions=active_actions(budget.policy_view, state),  # type: ignore[arg-type]
        period_start=period.start,
        period_end=period.end,
        spend_as_of=spend.as_of,
        forecasted_spend=budget.forecasted_spend if _same_period(budget, spend) else None,
        forecast_exceed_probability=float(budget.forecast_exceed_probability)
        if budget.forecast_exceed_probability is not None and _same_period(budget, spend)
        else None,
        forecast_breach_date=budget.forecast_breach_date if _same_period(budget, spend) else None,
        forecast_as_of=budget.forecast_as_of if _same_period(budget, spend) else None,
    )


def _due(budget: BudgetRecord, spend: Spend, *, force: bool = False) -> tuple[list[DueEvent], store.Evaluation | None]:
    """The events the spend makes due for the budget, and the evaluation to save (None when the budget row
    already holds exactly it)."""
    if spend.period is None:
        return [], None
    period = spend.period
    percent = percent_used(spend.amount, budget.amount)
    state = state_for(budget.policy_view, percent)
    new_period = budget.period_start is not None and budget.period_start != period.start
    # A budget's state is saved in the transaction that records the events it makes due, for its period and
    # threshold generation (a change that bumps the generation evaluates with `force`). So while neither the
    # period nor the state changes, those events exist already: no need to try them again.
    if not force and budget.period_start == period.start and budget.state == state:
        if budget.spend_as_of == spend.as_of and budget.spent == _as_stored(spend.amount):
            return [], None  # the row holds this evaluation already
        return [], store.Evaluation(budget.id, spend.amount, spend.as_of, state, period.start)
    events = due_events(budget.policy_view, budget.state, percent, new_period=new_period)
    return events, store.Evaluation(budget.id, spend.amount, spend.as_of, state, period.start)


def _forecast_details(forecast: BudgetForecast) -> dict[str, Any]:
    return {
        "expectedSpend": str(forecast.expected_spend),
        "probability": forecast.probability_over,
        "breachDate": forecast.breach_date.isoformat() if forecast.breach_date else None,
    }


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


def _degraded(dependency: str) -> EnforcementDecision:
    """The answer when a database is down, by ENFORCEMENT_FAIL_MODE; counted in EnforcementDegraded."""
    allow = get_settings().enforcement_fail_mode == "allow"
    logger.warning("enforcement degraded", extra={"dependency": dependency, "allowed": allow})
    add_count("EnforcementDegraded", 1)
    return EnforcementDecision(
        allowed=allow,
        action="allow" if allow else "block",
        reason=f"degraded: {dependency} is unavailable; {'allowed (fail open)' if allow else 'denied (fail closed)'}",
        degraded=True,
    )


def _as_stored(amount: Decimal) -> Decimal:
    """An amount as the numeric(38, 6) column stores it (PostgreSQL rounds half away from zero)."""
    return quantize(amount, MICRO, ROUND_HALF_UP)


def _same_period(budget: BudgetRecord, spend: Spend) -> bool:
    """A stored forecast belongs to the period it was made in."""
    return (
        budget.forecast_as_of is not None
        and spend.period is not None
        and spend.period.start <= budget.forecast_as_of.date() <= spend.period.end
    )


def _require_version(budget: BudgetRecord, expected: int) -> None:
    if budget.version != expected:
        raise PreconditionFailed(f"version {expected} is stale; the budget is at version {budget.version}")


def _expected_version(body_version: int | None, if_match: str | None) -> int:
    header = None
    if if_match:
        text = if_match.strip().removeprefix("W/").strip('"')
        if not text.isdigit():
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


class PreconditionRequired(PreconditionFailed):
    status_code = 428


def _changes(budget: BudgetRecord, update: BudgetUpdate) -> dict[str, Any]:
    """Column changes of a partial update, re-validating the merged policy."""
    proposed: dict[str, Any] = {}
    for name in ("name", "amount", "period", "start_date", "models", "regions", "services"):
        value = getattr(update, name)
        if value is not None:
            proposed[name] = list(value) if isinstance(value, list) else value
    if update.categories is not None:
        proposed["categories"] = [c.value for c in update.categories]
    if update.policy is not None:
        policy: BudgetPolicy = update.policy
        proposed.update(
            notify_threshold=policy.notify_threshold,
            enforce_threshold=policy.enforce_threshold,
            actions=list(policy.actions),
            notify_emails=policy.notify_emails,
            admin_emails=policy.admin_emails,
            rate_limit_factor=policy.rate_limit_factor,
        )
    return {k: v for k, v in proposed.items() if _normalised(getattr(budget, k)) != _normalised(v)}


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
