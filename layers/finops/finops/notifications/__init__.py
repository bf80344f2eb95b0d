"""Notifications: compose a message (`messages`; an anomaly's in `finops.anomalies.alerts`), keep it in the outbox
with its event (`outbox`, the one writer), publish it to SNS (`publisher`, after the commit through `notifier`,
and every 5 minutes by the drainer, `job`), and keep budgets' email subscriptions in step (`subscriptions`). All
the SQL is in `store`. boto3 is imported only inside the functions that call AWS."""

from finops.notifications.messages import OutboxMessage, compose_budget_alert
from finops.notifications.outbox import enqueue
from finops.notifications.publisher import PublishReport, publish_pending, sns_client, topic_arns_from_settings
from finops.notifications.subscriptions import remove_budget_subscriptions, sync_email_subscriptions

__all__ = [
    "OutboxMessage",
    "PublishReport",
    "compose_budget_alert",
    "enqueue",
    "publish_pending",
    "remove_budget_subscriptions",
    "sns_client",
    "sync_email_subscriptions",
    "topic_arns_from_settings",
]
