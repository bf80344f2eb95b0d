"""Domain errors raised by the layer. `finops.api` maps them to HTTP in one place."""

from __future__ import annotations


class FinOpsError(Exception):
    """Base of every error the service answers with a 4xx."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None, location: str = "query") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.location = location


class Unauthorized(FinOpsError):
    status_code = 401


class Forbidden(FinOpsError):
    status_code = 403


class NotFound(FinOpsError):
    status_code = 404


class Conflict(FinOpsError):
    status_code = 409


class PreconditionFailed(FinOpsError):
    status_code = 412


class PayloadTooLarge(FinOpsError):
    """A body that is (or decompresses to) more than the route accepts."""

    status_code = 413

    def __init__(self, message: str) -> None:
        super().__init__(message, field="body", location="body")


class InvalidRequest(FinOpsError):
    """A request that parsed but breaks a rule across fields (for example `from` after `to`)."""

    status_code = 422


class ServiceUnavailable(FinOpsError):
    """A dependency (PostgreSQL, ClickHouse, AWS) is slow or down: answered 503 with Retry-After."""

    status_code = 503

    def __init__(self, message: str, *, dependency: str, retry_after_seconds: int = 5) -> None:
        super().__init__(message)
        self.dependency = dependency
        self.retry_after_seconds = retry_after_seconds
