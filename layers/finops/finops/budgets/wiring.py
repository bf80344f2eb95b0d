"""Builds the budget service a handler uses: the container's PostgreSQL connection, ClickHouse spend reader
and SNS notifier, created once per container."""

from __future__ import annotations

from functools import lru_cache

from pg8000.native import Connection

from finops.budgets.service import Budgets, Notifier
from finops.budgets.spend import SpendReader
from finops.db.clickhouse import get_client
from finops.db.postgres import get_connection
from finops.notifications.publisher import topic_arns_from_settings
from finops.settings import get_settings


@lru_cache(maxsize=1)
def _spend_reader() -> SpendReader:
    return SpendReader(get_client, max_age_seconds=get_settings().spend_cache_seconds)


def budgets(*, cached_spend: bool = True) -> Budgets:
    reader = _spend_reader() if cached_spend else SpendReader(get_client)
    return Budgets(connect=get_connection, spend_reader=reader, notifier=notifier())


def forget() -> None:
    """Drop per-container state (tests switch databases)."""
    _spend_reader.cache_clear()


def notifier() -> Notifier:
    topics = topic_arns_from_settings()
    if not any(topics.values()):
        return Notifier()

    def publish(conn: Connection, backlog: bool, subscriptions: bool) -> None:
        from finops.notifications.publisher import drain_outbox, publish_pending, sns_client, sync_pending_subscriptions

        if backlog:
            drain_outbox(conn, sns_client(), topics, subscriptions=subscriptions)
            return
        # On a request path: a few rows, and give up at once if SNS is unreachable (the drainer retries).
        publish_pending(conn, sns_client(), topics, limit=20, max_consecutive_connection_errors=1)
        if subscriptions:
            sync_pending_subscriptions(conn, sns_client(), topics, limit=10)

    return Notifier(publish=publish)
