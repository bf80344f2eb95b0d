"""Logger, metrics and tracer, made once; every handler applies them with `instrumented`.

Decorator order is the same everywhere: tracing outermost, then log context (correlation id from the
request), then EMF metrics flushed when the handler returns.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from finops.settings import get_settings

SERVICE_NAME = "finops"
METRICS_NAMESPACE = "FinOps"

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)
# No auto-patching: it imports every library X-Ray can patch (requests, pg8000, botocore...) at cold start,
# whether a function uses it or not; handlers and the layer trace what they need explicitly.
tracer = Tracer(service=SERVICE_NAME, auto_patch=False)

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def instrumented(*, api: bool = True, correlation_path: str | None = None) -> Callable[[Handler], Handler]:
    """Apply tracing, structured logging and metrics to a Lambda entry point. The correlation id is the API
    request's id, an EventBridge event's id (`api=False`), or what `correlation_path` points at."""

    def decorate(handler: Handler) -> Handler:
        get_settings()  # at import, i.e. cold start: a malformed setting fails the init, not a request
        wrapped = metrics.log_metrics(capture_cold_start_metric=True)(handler)
        wrapped = logger.inject_lambda_context(
            correlation_id_path=correlation_path
            or (correlation_paths.API_GATEWAY_HTTP if api else correlation_paths.EVENT_BRIDGE),
            clear_state=True,
        )(wrapped)
        wrapped = tracer.capture_lambda_handler(wrapped)
        return functools.wraps(handler)(wrapped)

    return decorate


def add_count(name: str, value: float) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def add_milliseconds(name: str, value: float) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=value)


def add_seconds(name: str, value: float) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Seconds, value=value)
