"""SNS email subscriptions for budgets: `notifyEmails` on the alerts topic, `adminEmails` on the admin topic.

SNS keeps one subscription per topic and address (subscribing an address again returns the same subscription,
or fails if its attributes differ). So an address listed by several budgets has one subscription per topic,
whose filter policy names all of them: `{"budgetId": [A, B]}` on the message attributes. The table
`finops_budget_subscriptions` has a row per budget, topic and address; the rows of one address and topic share
its subscription ARN. Each address is changed in its own short transaction under an advisory lock on
(topic, address), so two budgets changing at once never overwrite each other's filter policy.

Call these after the budget change is committed, never inside its transaction: SNS is not transactional, and
a subscription made for a change that then rolled back would be an address mailed for nothing.

Email subscriptions wait until their recipient confirms. SNS answers `ReturnSubscriptionArn=True` with a
real ARN even then, but cannot always delete a subscription still pending ("pending confirmation" in older
answers is not an ARN at all); SNS drops unconfirmed subscriptions by itself after a few days, so such a row
is simply forgotten. One SNS filter policy holds at most 150 values: an address can follow up to 150 budgets
per topic.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from finops.db.postgres import transaction
from finops.notifications import store
from finops.notifications.messages import TOPICS
from finops.notifications.publisher import require_no_transaction
from finops.observability import logger

if TYPE_CHECKING:
    import pg8000.native
    from mypy_boto3_sns import SNSClient

_GONE = ("NotFound", "InvalidParameter")  # unsubscribed by its recipient, expired, or still pending


def sync_email_subscriptions(
    conn: pg8000.native.Connection,
    sns_client: SNSClient,
    topic_arn: str | None,
    *,
    budget_id: str,
    topic: str,
    emails: list[str],
) -> None:
    """Make the budget's subscriptions on `topic` exactly `emails` (compared case-insensitively): subscribe the
    new addresses, unsubscribe the ones no longer listed. Idempotent; safe to repeat after a failure.
    `topic_arn` must be set (None raises: a caller without a topic has nothing to subscribe to)."""
    require_no_transaction(conn)
    if topic not in TOPICS:
        raise ValueError(f"unknown topic: {topic!r}")
    if not topic_arn:
        raise ValueError(f"no SNS topic ARN for topic '{topic}'")
    budget_id = str(budget_id)
    wanted = list(dict.fromkeys(e.strip().lower() for e in emails if e.strip()))
    current = {row.email for row in store.budget_subscriptions(conn, budget_id) if row.topic == topic}
    for email in wanted:
        if email not in current:
            _follow(conn, sns_client, topic_arn, budget_id=budget_id, topic=topic, email=email)
    for email in sorted(current - set(wanted)):
        _unfollow(conn, sns_client, budget_id=budget_id, topic=topic, email=email)


def remove_budget_subscriptions(conn: pg8000.native.Connection, sns_client: SNSClient, budget_id: str) -> None:
    """Stop mailing anyone about a deleted budget, on every topic. Idempotent."""
    require_no_transaction(conn)
    for row in store.budget_subscriptions(conn, str(budget_id)):
        _unfollow(conn, sns_client, budget_id=str(budget_id), topic=row.topic, email=row.email)


def _follow(
    conn: pg8000.native.Connection, sns_client: SNSClient, topic_arn: str, *, budget_id: str, topic: str, email: str
) -> None:
    from botocore.exceptions import ClientError

    with transaction(conn):
        store.lock_address(conn, topic, email)
        rows = store.address_subscriptions(conn, topic, email)
        budgets = {str(row.budget_id) for row in rows} | {budget_id}
        arn = next((row.subscription_arn for row in rows if _is_arn(row.subscription_arn)), None)
        policy = _filter_policy(budgets)
        if arn is not None:
            try:
                sns_client.set_subscription_attributes(
                    SubscriptionArn=arn, AttributeName="FilterPolicy", AttributeValue=policy
                )
            except ClientError as error:
                if _code(error) not in _GONE:
                    raise
                arn = None  # gone since: subscribe the address again
        if arn is None:
            arn = _subscribe(sns_client, topic_arn, email, policy)
        store.save_subscription(conn, budget_id=budget_id, topic=topic, email=email, arn=arn)


def _unfollow(conn: pg8000.native.Connection, sns_client: SNSClient, *, budget_id: str, topic: str, email: str) -> None:
    from botocore.exceptions import ClientError

    with transaction(conn):
        store.lock_address(conn, topic, email)
        deleted = store.delete_subscription(conn, budget_id=budget_id, topic=topic, email=email)
        arn = deleted.subscription_arn if deleted else None
        remaining = {str(row.budget_id) for row in store.address_subscriptions(conn, topic, email)}
        log_keys = {"budgetId": budget_id, "topic": topic, "subscriptionArn": arn}
        if arn is not None and not _is_arn(arn):
            logger.info("subscription pending confirmation: left for SNS to expire", extra=log_keys)
        elif arn is not None:
            try:
                if remaining:  # other budgets still mail this address: narrow its filter
                    sns_client.set_subscription_attributes(
                        SubscriptionArn=arn, AttributeName="FilterPolicy", AttributeValue=_filter_policy(remaining)
                    )
                else:
                    sns_client.unsubscribe(SubscriptionArn=arn)
            except ClientError as error:
                if _code(error) not in _GONE:
                    raise
                logger.info("subscription already gone or still pending", extra={**log_keys, "error": str(error)})


def _subscribe(sns_client: SNSClient, topic_arn: str, email: str, policy: str) -> str:
    from botocore.exceptions import ClientError

    try:
        response = sns_client.subscribe(
            TopicArn=topic_arn,
            Protocol="email",
            Endpoint=email,
            Attributes={"FilterPolicy": policy, "FilterPolicyScope": "MessageAttributes"},
            ReturnSubscriptionArn=True,
        )
        return response["SubscriptionArn"]
    except ClientError as error:
        # "Subscription already exists with different attributes": made before this table knew of it.
        existing = _find_subscription(sns_client, topic_arn, email) if _code(error) == "InvalidParameter" else None
        if existing is None:
            raise
    sns_client.set_subscription_attributes(
        SubscriptionArn=existing, AttributeName="FilterPolicy", AttributeValue=policy
    )
    return existing


def _find_subscription(sns_client: SNSClient, topic_arn: str, email: str) -> str | None:
    paginator = sns_client.get_paginator("list_subscriptions_by_topic")
    for page in paginator.paginate(TopicArn=topic_arn):
        for subscription in page.get("Subscriptions", []):
            arn = subscription.get("SubscriptionArn", "")
            if subscription.get("Protocol") == "email" and subscription.get("Endpoint", "").lower() == email:
                return arn if _is_arn(arn) else None
    return None


def _filter_policy(budget_ids: set[str]) -> str:
    return json.dumps({"budgetId": sorted(budget_ids)})


def _is_arn(value: str | None) -> bool:
    return bool(value) and str(value).startswith("arn:")


def _code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))
