"""The costs domain's scheduled job: the daily aggregation (01:00 UTC)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from clickhouse_connect.driver.client import Client

from finops.costs.aggregation import aggregate_days, reply_of_run
from finops.costs.models import AggregateResponse
from finops.costs.store import days_needing_aggregation
from finops.settings import get_settings


def run_daily_aggregation(client: Client, *, today: date | None = None) -> AggregateResponse:
    """Yesterday, plus every earlier day that received telemetry after its last run.

    `today` is the schedule's day, so a delayed or replayed run aggregates the days it was meant for; the
    cut-off between facts and live events is always the real clock.
    """
    settings = get_settings()
    yesterday = (today or datetime.now(UTC).date()) - timedelta(days=1)
    # Days of any age that received telemetry in the look-back (by arrival), e.g. late events for last month.
    late = days_needing_aggregation(
        client, since=yesterday - timedelta(days=settings.late_telemetry_lookback_days), until=yesterday
    )
    done = aggregate_days(client, sorted({yesterday, *late}), settle_seconds=settings.aggregation_settle_seconds)
    return reply_of_run(done)
