"""Builds the budget service a handler uses: the container's PostgreSQL connection, ClickHouse spend reader
and SNS notifier, created once per container."""

from __future__ import annotations

from functools import lru_cache

from pg8000.native import Connection

from finops.budgets.service import Budgets, Notifier
from finops.budgets.spend import SpendReader
from finops.budgets.store import BudgetRecord
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

    def publish(conn: Connection, backlog: bool) -> None:
        from finops.notifications.publisher import publish_pending, sns_client

        if not backlog:
            # On a request path: a few rows, and give up at once if SNS is unreachable (the daily check retries).
            publish_pending(conn, sns_client(), topics, limit=20, max_consecutive_connection_errors=1)
            return
        while (report := publish_pending(conn, sns_client(), topics)).published and report.still_pending:
            pass  # the whole backlog, in batches, until it is empty or SNS stops accepting

    def sync(conn: Connection, budget: BudgetRecord) -> None:
        from finops.notifications.publisher import sns_client
        from finops.notifications.subscriptions import sync_email_subscriptions

        for topic, emails in (("alerts", budget.notify_emails), ("admin", budget.admin_emails)):
            if topics[topic]:
                sync_email_subscriptions(
                    conn, sns_client(), topics[topic], budget_id=budget.id, topic=topic, emails=list(emails)
                )

    def remove(conn: Connection, budget_id: str) -> None:
        from finops.notifications.publisher import sns_client
        from finops.notifications.subscriptions import remove_budget_subscriptions

        remove_budget_subscriptions(conn, sns_client(), budget_id)

    return Notifier(publish=publish, sync_subscriptions=sync, remove_subscriptions=remove)
