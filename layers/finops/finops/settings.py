"""Typed settings, read from the environment once per container and validated at cold start.

Every environment variable the service reads is declared here, nowhere else. A malformed value fails
loudly when the function initialises, not at the first request that happens to need it.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, validate_by_name=True, validate_by_alias=True)

    # ClickHouse. `chdb:///abs/dir` runs the engine in-process (local stack and tests); production uses
    # `https://host:8443` (user and password from the secret named by CLICKHOUSE_SECRET_ARN).
    clickhouse_url: str = Field("chdb://memory", alias="CLICKHOUSE_URL")
    clickhouse_database: str = Field("finops", alias="CLICKHOUSE_DATABASE", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    clickhouse_secret_arn: str | None = Field(None, alias="CLICKHOUSE_SECRET_ARN")

    # PostgreSQL (budgets). `postgresql://user:password@host:5432/dbname`, or a Unix socket directory as the
    # libpq-style `?host=/dir` (the embedded server of the local stack). In AWS, DATABASE_SECRET_ARN names an RDS
    # secret (host, port, username, password, dbname) instead.
    database_url: str | None = Field(None, alias="DATABASE_URL")
    database_secret_arn: str | None = Field(None, alias="DATABASE_SECRET_ARN")
    database_schema: str = Field("finops", alias="DATABASE_SCHEMA", pattern=r"^[a-z_][a-z0-9_]*$")

    # Timeouts, each below the function's own (the template checks): a slow or unreachable database answers 503
    # with Retry-After, never a Lambda time-out. Jobs set longer statement and query times than API functions.
    postgres_connect_timeout_seconds: float = Field(3.0, alias="POSTGRES_CONNECT_TIMEOUT_SECONDS", gt=0, le=60)
    postgres_statement_timeout_ms: int = Field(5000, alias="POSTGRES_STATEMENT_TIMEOUT_MS", ge=100, le=900_000)
    postgres_lock_timeout_ms: int = Field(2000, alias="POSTGRES_LOCK_TIMEOUT_MS", ge=100, le=900_000)
    clickhouse_connect_timeout_seconds: float = Field(3.0, alias="CLICKHOUSE_CONNECT_TIMEOUT_SECONDS", gt=0, le=60)
    clickhouse_query_timeout_seconds: float = Field(8.0, alias="CLICKHOUSE_QUERY_TIMEOUT_SECONDS", ge=1, le=900)

    # SNS topics for budget alerts (owners and subscribers) and for the admin channel.
    alerts_topic_arn: str | None = Field(None, alias="ALERTS_TOPIC_ARN")
    admin_topic_arn: str | None = Field(None, alias="ADMIN_TOPIC_ARN")

    # The notification outbox: failed tries back off (30 s doubling, at most an hour apart); after this many the
    # row is parked as dead (kept, alarmed, no longer tried).
    outbox_max_attempts: int = Field(15, alias="OUTBOX_MAX_ATTEMPTS", ge=1, le=100)

    # Budgets: how long cached spend may be reused on the enforcement hot path, and how long an allowed
    # operation's estimated cost counts toward its budgets before ingested spend is expected to show it.
    # What an enforcement check answers when PostgreSQL or ClickHouse is down: `allow` (fail open, the reply says
    # `degraded`) or `deny` (fail closed). Either way the EnforcementDegraded metric counts it.
    enforcement_fail_mode: Literal["allow", "deny"] = Field("allow", alias="ENFORCEMENT_FAIL_MODE")
    spend_cache_seconds: float = Field(5.0, alias="SPEND_CACHE_SECONDS", ge=0, le=55)
    reservation_ttl_seconds: int = Field(300, alias="RESERVATION_TTL_SECONDS", ge=0, le=86_400)

    # Anomalies: the smallest |actual - expected| worth reporting, and the `threshold` method's daily limits per
    # category as JSON, e.g. {"AI": 500, "EGRESS": 50}.
    anomaly_min_impact_usd: float = Field(10.0, alias="ANOMALY_MIN_IMPACT_USD", ge=0)
    anomaly_daily_limits: dict[str, float] = Field(default_factory=dict, alias="ANOMALY_DAILY_LIMITS")

    @field_validator("anomaly_daily_limits", mode="before")
    @classmethod
    def _json_object(cls, value: object) -> object:
        """Environment variables are text: ANOMALY_DAILY_LIMITS holds a JSON object."""
        return json.loads(value) if isinstance(value, str) else value

    # JWT claim names set by the HTTP API's JWT authorizer.
    tenant_claim: str = Field("tenant_id", alias="TENANT_CLAIM", min_length=1)
    roles_claim: str = Field("roles", alias="ROLES_CLAIM", min_length=1)

    # Ingestion limits.
    max_event_age_days: int = Field(400, alias="MAX_EVENT_AGE_DAYS", ge=1, le=3650)
    max_clock_skew_seconds: int = Field(300, alias="MAX_CLOCK_SKEW_SECONDS", ge=0, le=86_400)

    # Aggregation: events ingested within this many seconds of an aggregation's start are left to the
    # live path, so an insert still in flight when the aggregation reads is never missed.
    aggregation_settle_seconds: int = Field(60, alias="AGGREGATION_SETTLE_SECONDS", ge=0, le=3600)
    # How far back the daily job looks for days that received late telemetry.
    late_telemetry_lookback_days: int = Field(35, alias="LATE_TELEMETRY_LOOKBACK_DAYS", ge=1, le=400)

    max_query_days: int = Field(400, alias="MAX_QUERY_DAYS", ge=1, le=3650)

    # Imported cost (FOCUS bills) is history: rows older than this are not imported. Keep it equal to the
    # imported_costs table's TTL (README, "Importing FOCUS cost data"), which removes them from storage.
    imported_cost_retention_days: int = Field(3653, alias="IMPORTED_COST_RETENTION_DAYS", ge=1, le=36_500)
    # The ProviderName, PublisherName and InvoiceIssuerName of the platform's own (telemetry) rows in a FOCUS export.
    focus_provider_name: str = Field(
        "FinOps Cost Explorer",
        alias="FOCUS_PROVIDER_NAME",
        min_length=1,
        max_length=128,
        pattern=r"^[^\x00-\x1f\x7f]+$",
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    try:
        return Settings.model_validate({k: v for k, v in os.environ.items() if k in _ENV_NAMES})
    except ValidationError as error:  # pragma: no cover - exercised by a test through reload
        raise RuntimeError(f"invalid service configuration: {error}") from error


_ENV_NAMES = {field.alias for field in Settings.model_fields.values() if field.alias}


def reload_settings() -> Settings:
    """Forget the cached settings (tests and the local server change the environment)."""
    get_settings.cache_clear()
    return get_settings()
