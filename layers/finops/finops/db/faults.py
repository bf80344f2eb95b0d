"""Which failures mean "a dependency is slow or down" (answered 503 with Retry-After, or a degraded enforcement
answer), as opposed to a bug (500). One place that knows the drivers' exceptions.

PostgreSQL: the connection cannot be made or broke (pg8000 InterfaceError, socket errors), or the server gave up
on our behalf: `statement_timeout` (57014), `lock_timeout` (55P03), shutting down or starting (57P0x), too many
connections (53300), a connection exception class (08xxx), or a retryable conflict (40001, 40P01).
ClickHouse: the HTTP connection failed or timed out (OperationalError), or the server gave up:
`max_execution_time` (TIMEOUT_EXCEEDED 159), TOO_SLOW (160), too many queries (202), socket timeout (209),
network error (210), memory limit (241), a readonly table during a failover (242).
"""

from __future__ import annotations

import socket

from finops.errors import InvalidRequest, ServiceUnavailable

_POSTGRES_TRANSIENT = {"57014", "55P03", "57P01", "57P02", "57P03", "53300", "40001", "40P01"}
_CLICKHOUSE_TRANSIENT = {159, 160, 202, 209, 210, 241, 242}


def as_unavailable(error: BaseException) -> ServiceUnavailable | None:
    """The 503 a failure stands for, or None when it is not a dependency being slow or down."""
    if isinstance(error, ServiceUnavailable):
        return error
    dependency = _postgres(error) or _clickhouse(error) or _aws(error)
    if dependency is None and isinstance(error, socket.timeout | ConnectionError | TimeoutError):
        dependency = "a dependency"
    return (
        ServiceUnavailable(f"{dependency} is unavailable; retry shortly", dependency=dependency) if dependency else None
    )


# ClickHouse's throwIf (FUNCTION_THROW_IF_VALUE_IS_NON_ZERO) with the cost queries' marker: a report asked for a
# currency some cost has no exchange rate into on its day (finops.costs.queries).
_THROW_IF = 395
NO_EXCHANGE_RATE_MARKER = "FINOPS_NO_EXCHANGE_RATE"


def as_invalid_request(error: BaseException) -> InvalidRequest | None:
    """The 422 a query failure stands for (the request asked for what the data cannot give), or None."""
    from clickhouse_connect.driver import exceptions as clickhouse

    if isinstance(error, clickhouse.Error) and error.code == _THROW_IF and NO_EXCHANGE_RATE_MARKER in str(error):
        return InvalidRequest(
            "some of this cost cannot be converted into the requested currency: a currency it is billed in has no "
            "exchange rate for its day; publish one (POST /v1/analytics/finops/exchange-rates) or ask for another "
            "currency",
            field="currency",
        )
    return None


def _postgres(error: BaseException) -> str | None:
    import pg8000.exceptions

    if isinstance(error, pg8000.exceptions.InterfaceError):
        return "PostgreSQL"
    if isinstance(error, pg8000.exceptions.DatabaseError):
        details = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
        code = str(details.get("C", ""))
        if code in _POSTGRES_TRANSIENT or code.startswith("08"):
            return "PostgreSQL"
    return None


def _clickhouse(error: BaseException) -> str | None:
    from clickhouse_connect.driver import exceptions as clickhouse

    if isinstance(error, clickhouse.OperationalError):
        return "ClickHouse"
    if isinstance(error, clickhouse.Error) and error.code in _CLICKHOUSE_TRANSIENT:
        return "ClickHouse"
    return None


def _aws(error: BaseException) -> str | None:
    """Secrets Manager or SNS unreachable or throttling (botocore is only imported where it is used)."""
    module = type(error).__module__
    if not module.startswith("botocore"):
        return None
    from botocore.exceptions import ClientError, ConnectionError, EndpointConnectionError, ReadTimeoutError

    if isinstance(error, ConnectionError | EndpointConnectionError | ReadTimeoutError):
        return "AWS"
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        if code in {"Throttling", "ThrottlingException", "ServiceUnavailable", "InternalServiceError"}:
            return "AWS"
    return None
