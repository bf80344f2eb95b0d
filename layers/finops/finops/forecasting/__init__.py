"""Daily spend forecasting (numpy only). Docstring to be completed."""

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
