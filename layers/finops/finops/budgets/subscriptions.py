"""Keeping a budget's e-mail subscriptions in step with its address lists: a change queues, in its own
transaction, a request to sync the topics it touched (done after the commit, retried from the outbox)."""

from __future__ import annotations

from collections.abc import Iterable

from pg8000.native import Connection

from finops.budgets.store import BudgetRecord, subscribed_topics
from finops.notifications.outbox import enqueue_subscription_sync

# The topic each of a budget's address lists is mailed on.
EMAIL_COLUMNS = {"alerts": "notify_emails", "admin": "admin_emails"}


def on_create(conn: Connection, budget: BudgetRecord) -> None:
    """A new budget's addresses are subscribed on the topics they are for."""
    _enqueue(conn, budget, _topics_with_emails(budget))


def on_update(conn: Connection, budget: BudgetRecord, changed_columns: Iterable[str]) -> None:
    """The topics whose address list changed are brought in step."""
    changed = set(changed_columns)
    _enqueue(conn, budget, [topic for topic, column in EMAIL_COLUMNS.items() if column in changed])


def on_delete(conn: Connection, budget: BudgetRecord) -> None:
    """Nobody is mailed about a deleted budget: every subscription it has (or may have) goes, through the outbox,
    so an SNS error after the commit is retried rather than leaving a subscription behind."""
    topics = set(_topics_with_emails(budget)) | set(subscribed_topics(conn, budget.id))
    _enqueue(conn, budget, sorted(topics))


def _topics_with_emails(budget: BudgetRecord) -> list[str]:
    return [topic for topic, column in EMAIL_COLUMNS.items() if getattr(budget, column)]


def _enqueue(conn: Connection, budget: BudgetRecord, topics: list[str]) -> None:
    if topics:
        enqueue_subscription_sync(conn, budget_id=budget.id, tenant_id=budget.tenant_id, topics=topics)
