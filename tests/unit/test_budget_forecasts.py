"""The daily check's budget forecasts (finops.budgets.forecasts): one history in dollars, each budget in its own
currency."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from finops.budgets.forecasts import forecast_budgets, history_start
from finops.budgets.periods import period_containing
from finops.budgets.spend import Spend
from finops.budgets.store import BudgetRecord

TODAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 2, tzinfo=UTC)


def budget(budget_id: str, currency: str, amount: str) -> BudgetRecord:
    return BudgetRecord(
        id=budget_id,
        tenant_id="acme",
        name=budget_id,
        amount=Decimal(amount),
        period="monthly",
        start_date=date(2026, 1, 1),
        categories=("AI",),
        models=(),
        regions=(),
        services=(),
        notify_threshold=Decimal(80),
        enforce_threshold=None,
        actions=("notify",),
        notify_emails=(),
        admin_emails=(),
        rate_limit_factor=None,
        version=1,
        threshold_generation=0,
        state="ok",
        period_start=None,
        spent=Decimal(0),
        spend_as_of=None,
        created_by="test",
        created_at=NOW,
        updated_at=NOW,
        deleted_at=None,
        currency=currency,
    )


def test_a_budget_in_another_currency_is_forecast_in_it_from_the_dollar_history():
    """Found by the review: the forecast of a yen budget added dollars of history to its yen amount."""
    first = history_start(TODAY)
    daily = {("acme", "AI"): {first + timedelta(days=n): Decimal(10 + n % 7) for n in range(91)}}
    period = period_containing("monthly", date(2026, 1, 1), TODAY)
    in_period = sum(cost for day, cost in daily[("acme", "AI")].items() if day >= period.start)
    dollars, yen = budget("usd", "USD", "400"), budget("jpy", "JPY", "60000")  # 150 yen a dollar
    spend = {
        "usd": Spend(in_period, NOW, period),
        "jpy": Spend(in_period * 150, NOW, period),
    }
    forecasts = forecast_budgets([dollars, yen], spend, daily, TODAY)
    assert set(forecasts) == {"usd", "jpy"}
    expected_usd, expected_jpy = forecasts["usd"].expected_spend, forecasts["jpy"].expected_spend
    assert abs(expected_jpy / expected_usd - 150) < Decimal("0.001")
    assert forecasts["usd"].probability_over == forecasts["jpy"].probability_over
