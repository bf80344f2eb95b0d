"""Builds the `Budgets` a use case works with: the container's PostgreSQL connection, ClickHouse spend reader
and SNS notifier, created once per container. A handler's parameter `service: BudgetService` receives one (tests
swap `request_budgets` in `app.dependency_overrides`)."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from aws_lambda_powertools.event_handler.depends import Depends

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
    """`cached_spend`: reuse spend read in the last SPEND_CACHE_SECONDS (the enforcement hot path); the jobs and
    the evaluation after ingestion read it fresh."""
    reader = _spend_reader() if cached_spend else SpendReader(get_client)
    return Budgets(connect=get_connection, spend_reader=reader, notifier=notifier())


def request_budgets() -> Budgets:
    """An API request's `Budgets`. It takes no parameters: Depends() would read them from the request."""
    return budgets()


BudgetService = Annotated[Budgets, Depends(request_budgets)]


def forget() -> None:
    """Drop per-container state (tests switch databases)."""
    _spend_reader.cache_clear()
