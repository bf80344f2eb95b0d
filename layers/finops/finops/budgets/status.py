"""A budget's status: spend this period against its amount, the state and actions that puts it in, and the
forecast the daily check stored for the period. Read only: nothing is saved here."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from finops.auth import Permission, Principal
from finops.budgets import store
from finops.budgets.models import BudgetStatus, BudgetStatusList
from finops.budgets.periods import BudgetPeriod
from finops.budgets.policy import active_actions, percent_used, state_for
from finops.budgets.service import Budgets
from finops.budgets.spend import Spend
from finops.budgets.store import BudgetRecord


def status(service: Budgets, principal: Principal, budget_id: str) -> BudgetStatus:
    budget = service.visible(principal, budget_id, Permission.READ_BUDGETS)
    today = datetime.now(UTC).date()
    return _status(budget, service.spend_reader.spend([budget], today)[budget.id])


def tenant_statuses(service: Budgets, principal: Principal, tenant_id: str) -> BudgetStatusList:
    principal.require(Permission.READ_BUDGETS, tenant_id)
    budgets = store.live_budgets(service.conn, tenants=[tenant_id])
    today = datetime.now(UTC).date()
    spend = service.spend_reader.spend(budgets, today) if budgets else {}
    return BudgetStatusList(statuses=[_status(b, spend[b.id]) for b in budgets])


def _status(budget: BudgetRecord, spend: Spend) -> BudgetStatus:
    period = spend.period or BudgetPeriod(budget.start_date, budget.start_date)
    percent = percent_used(spend.amount, budget.amount)
    state = state_for(budget.policy_view, percent) if spend.period else "ok"
    # A stored forecast belongs to the period it was made in.
    forecast_current = (
        budget.forecast_as_of is not None
        and spend.period is not None
        and spend.period.start <= budget.forecast_as_of.date() <= spend.period.end
    )
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
        forecasted_spend=budget.forecasted_spend if forecast_current else None,
        forecast_exceed_probability=float(budget.forecast_exceed_probability)
        if budget.forecast_exceed_probability is not None and forecast_current
        else None,
        forecast_breach_date=budget.forecast_breach_date if forecast_current else None,
        forecast_as_of=budget.forecast_as_of if forecast_current else None,
    )
