"""Daily spend forecasts that report their own accuracy (numpy only: no SciPy or pandas in the layer).

`forecast(history, horizon, method="auto", start_date=None) -> Forecast`: `history` is daily spend, oldest
first, the last day complete; the result has daily points with 80% and 95% intervals, the period total with
its intervals, the method, and the method's backtest accuracy on this very series.

Methods (all fitted on a cleaned copy of the history, see `robust`: one-off spikes and outage days beyond 7
robust standard deviations of a centred weekly fit are replaced; level shifts survive, so they are followed):
- `linear`: least squares on the day number, with the textbook Student-t prediction intervals (parameter
  uncertainty included, so they widen with the horizon). The seed's method; it ignores the weekly pattern.
- `moving_average`: the mean of the last 7 days, projected flat. The seed's other method.
- `seasonal`: additive Holt-Winters with a damped trend and a weekly season; alpha, beta, gamma and phi are
  chosen by a 90-point grid on one-step squared errors, all candidates in one vectorised pass.
- `seasonal_naive`: the last (cleaned) week, repeated.
- `auto` (default): a weighted mean of six candidates: `seasonal`, a weekly-profile moving average (last
  week's mean times robust day-of-week factors), the same profile times the median of the last two weeks'
  deseasonalised days, `seasonal_naive`, and the strong simple forecasts on bursty series: each weekday's
  median and mean over the last four weeks. Each is weighted by 1 / MAE^2 of a rolling-origin backtest on the
  cleaned history (forecasts up to 14 days ahead, or the horizon if shorter): bursts beyond 7 robust
  standard deviations are replaced before the backtest, so one burst does not decide the weights.
  Combining rather than picking one: on short, broken series the backtest ranks methods noisily, and a
  combination of simple forecasts is the robust choice (bench/ACCURACY.md has the comparison, on
  generated and on real public series, and how the figures move with the weighting).
Every method's points and bounds are clipped at zero.

Intervals (all but `linear`): from the method's own backtest errors against the raw history (spikes
included), daily and for the period total, widened by factors measured on the accuracy bench (in-sample
backtests are optimistic, and breaks such as a new service are not in the history): see `intervals` and
`engine.DAILY_WIDENING`.

Accuracy (`Forecast.accuracy`): forecasts from every origin from day 28 (or half the history, if shorter)
up to 28 days ahead (or the horizon), scored against the raw history: MAPE (None when an actual day was zero:
undefined there), sMAPE, MASE (scaled by the in-sample weekly-naive error) and the coverage of the 80% and 95%
intervals, the latter out of sample: intervals fitted on the first half of the origins, checked on the second.

Too little history: fewer than MIN_HISTORY_DAYS (14) days since the first day with spend (leading zero days
are not history; all zeros is zero days) raises `InsufficientHistory(needed_days, got_days)`, an
`InvalidRequest`, so the API answers 422 with a message saying how much history is needed. A flat forecast
flagged as low-confidence was the alternative: a number nobody should plan with is worse than a clear refusal.

Speed: about 1.5 ms for 90 days of history and a 30-day horizon with `auto` (bench/ACCURACY.md).

Modules, in the order a forecast goes through them (`engine.forecast_horizons` calls each stage once): `robust`
(clean the history), `methods` (fit each candidate: pure functions), `backtest` (weigh `auto`'s candidates, score
the forecast), `intervals`; `stats` holds the small statistics they share. The endpoint's use case is `spend`
(a tenant's daily spend, forecast, as the reply in `models`).
"""

from finops.forecasting.engine import (
    METHODS,
    MIN_HISTORY_DAYS,
    Accuracy,
    Forecast,
    ForecastPoint,
    ForecastTotal,
    InsufficientHistory,
    Method,
    forecast,
)

__all__ = [
    "METHODS",
    "MIN_HISTORY_DAYS",
    "Accuracy",
    "Forecast",
    "ForecastPoint",
    "ForecastTotal",
    "InsufficientHistory",
    "Method",
    "forecast",
]
