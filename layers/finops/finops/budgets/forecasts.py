"""Forecast-aware budgets: where each budget's period is heading, for the daily check.

The forecast is of the tenant's daily spend in the budget's categories (history up to yesterday, the same
engine as the forecast endpoint), scaled by the share the budget's model/region/service filters take of that
spend this period. Budgets that cannot plausibly exceed (even at 1.5x their busiest recent day, every day
left) are not forecast, which keeps the daily check fast; neither are budgets already over their amount
(their thresholds have fired), daily budgets (their period is today) or series with too little history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np

from finops.budgets.spend import DailySpend, Spend
from finops.budgets.store import BudgetRecord
from finops.forecasting.engine import Forecast, InsufficientHistory, forecast_horizons
from finops.models.common import CURRENCY, Category

HISTORY_DAYS = 90
RECENT_DAYS = 28
HEADROOM = 1.5


@dataclass(frozen=True)
class BudgetForecast:
    expected_spend: Decimal
    probability_over: float
    breach_date: date | None

    def exceeds(self, amount: Decimal) -> bool:
        return self.expected_spend > amount


def history_start(today: date) -> date:
    """The first day of the daily spend the forecasts read (`SpendReader.spend_and_daily`)."""
    return today - timedelta(days=HISTORY_DAYS)


def forecast_budgets(
    budgets: Sequence[BudgetRecord], spend: dict[str, Spend], daily: DailySpend, today: date
) -> dict[str, BudgetForecast]:
    """`daily`: each tenant's daily spend per category in US dollars from `history_start(today)` to today
    (`SpendReader.spend_and_daily`). A budget in another currency is forecast on it too, scaled by the ratio of its
    spend this period to that history's (the exchange rates of the period), like a filtered budget."""
    candidates = [
        b
        for b in budgets
        if (period := spend[b.id].period) is not None and period.end > today and spend[b.id].amount < b.amount
    ]
    if not candidates:
        return {}
    first = history_start(today)
    length = (today - first).days + 1
    series_cache: dict[tuple[str, str], np.ndarray | None] = {}

    def daily_series(tenant: str, category: str) -> np.ndarray | None:
        """The category's daily spend from `first` to today (missing days 0), None without any."""
        key = (tenant, category)
        if key not in series_cache:
            costs = daily.get(key)
            row = None
            if costs:
                row = np.zeros(length)
                for day, cost in costs.items():
                    row[(day - first).days] = float(cost)
            series_cache[key] = row
        return series_cache[key]

    # First the budgets worth forecasting and the horizon each needs, then one forecast per series for all of
    # its horizons (the engine computes the candidates' paths once per series, not once per budget).
    wanted: list[tuple[BudgetRecord, tuple[str, tuple[str, ...]], int, float, float, float]] = []
    series_of: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}
    for budget in candidates:
        period = spend[budget.id].period
        assert period is not None
        categories = budget.categories or tuple(c.value for c in Category)
        tenant_rows = [daily_series(budget.tenant_id, c) for c in categories]
        present = [r for r in tenant_rows if r is not None]
        if not present:
            continue
        series = np.sum(present, axis=0)  # through today (partial)
        history, start_index = series[:-1], (period.start - first).days
        level_period = float(series[max(start_index, 0) :].sum())
        # The budget's share of the history: its filters' share of the categories' spend, in its own currency.
        scaled = bool(budget.models or budget.regions or budget.services) or budget.currency != CURRENCY
        ratio = float(spend[budget.id].amount) / level_period if scaled and level_period > 0 else 1.0
        through_yesterday = ratio * float(history[max(start_index, 0) :].sum())
        remaining = (period.end - today).days + 1
        room = float(budget.amount) - through_yesterday
        busiest = float(history[-RECENT_DAYS:].max(initial=0.0)) * ratio
        if busiest * HEADROOM * remaining < room or ratio <= 0:
            continue
        key = (budget.tenant_id, categories)
        series_of[key] = history
        wanted.append((budget, key, remaining, ratio, through_yesterday, room))
    horizons: dict[tuple[str, tuple[str, ...]], set[int]] = {}
    for _, key, remaining, *_rest in wanted:
        horizons.setdefault(key, set()).add(remaining)
    forecasts: dict[tuple[str, tuple[str, ...]], dict[int, Forecast]] = {}
    for key, needed in horizons.items():
        try:
            forecasts[key] = forecast_horizons(series_of[key], sorted(needed), "auto", start_date=today)
        except InsufficientHistory:
            forecasts[key] = {}
    result = {}
    for budget, key, remaining, ratio, through_yesterday, room in wanted:
        predicted = forecasts[key].get(remaining)
        if predicted is None:
            continue
        crossing = predicted.expected_crossing(room / ratio)
        result[budget.id] = BudgetForecast(
            expected_spend=Decimal(str(round(through_yesterday + ratio * predicted.total.value, 6))),
            probability_over=round(predicted.probability_total_exceeds(room / ratio), 4),
            breach_date=today + timedelta(days=crossing) if crossing is not None else None,
        )
    return result
