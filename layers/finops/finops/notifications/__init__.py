"""Budget notifications: compose a message, keep it in the outbox with its event, publish it to SNS, and keep
budgets' email subscriptions in step. boto3 is imported only inside the functions that call AWS."""

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
