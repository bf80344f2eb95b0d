"""Builds the budget service a handler uses: the container's PostgreSQL connection, ClickHouse spend reader
and SNS notifier, created once per container."""

from __future__ import annotations

from functools import lru_cache

from finops.budgets.service import Budgets
from finops.budgets.spend import SpendReader
from finops.db.clickhouse import get_client
from finops.db.postgres import get_connection
from finops.notifications.notifier import notifier
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
