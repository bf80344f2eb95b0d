"""Logger and metrics, made once; every handler applies them with `instrumented`.

Decorator order is the same everywhere: log context outermost (correlation id from the request), then EMF metrics
flushed when the handler returns.

No Powertools Tracer: it needs the X-Ray SDK, which brings a second botocore into the layer (about 31 MB) and takes
about 0.4 s to import at each cold start, for one subsegment per invocation. `Tracing: Active` (template.yaml) still
has Lambda trace every invocation (initialisation, invocation, overhead) without any SDK in the code; and with no SDK,
no reply or exception of ours can end up in a trace.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from finops.settings import get_settings

SERVICE_NAME = "finops"
METRICS_NAMESPACE = "FinOps"

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def instrumented(*, api: bool = True, correlation_path: str | None = None) -> Callable[[Handler], Handler]:
    """Apply structured logging and metrics to a Lambda entry point. The correlation id is the API
    request's id, an EventBridge event's id (`api=False`), or what `correlation_path` points at."""

    def decorate(handler: Handler) -> Handler:
        get_settings()  # at import, i.e. cold start: a malformed setting fails the init, not a request
        # Everything imported so far lives as long as the container: take it out of the garbage collector's
        # sight, so a collection during a request (a batch of 5,000 events allocates plenty) does not walk the
        # hundreds of thousands of objects numpy, pydantic and the drivers made at import (pauses of tens of ms).
        gc.freeze()
        wrapped = metrics.log_metrics(capture_cold_start_metric=True)(handler)
        wrapped = logger.inject_lambda_context(
            correlation_id_path=correlation_path
            or (correlation_paths.API_GATEWAY_HTTP if api else correlation_paths.EVENT_BRIDGE),
            clear_state=True,
        )(wrapped)
        return functools.wraps(handler)(wrapped)

    return decorate


def add_count(name: str, value: float) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def add_milliseconds(name: str, value: float) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=value)


def add_seconds(name: str, value: float) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Seconds, value=value)
