"""Do the notification outbox: publish messages to SNS and bring e-mail subscriptions in step; nothing lost when
SNS is down, each message sent once, nothing stuck behind a message that never goes through.

"Exactly once", precisely: every message row is published until SNS accepts it once, and then never again.
Rows are taken in the order they are due, one at a time, with `SELECT ... FOR UPDATE SKIP LOCKED`, so two
publishers running at the same time (the drainer, the daily check, a request path, two Lambda containers) never
take the same row; each row is committed as soon as it is handled, so a crash loses nothing. The one gap no
outbox can close: a crash after SNS accepted a message but before its row's UPDATE committed re-publishes that
single row on the next run. The event id travels in the message (`eventId` attribute and JSON) so consumers drop
that duplicate.

A failure (SNS unreachable, throttled, a wrong topic ARN, a message SNS refuses) leaves the row pending with
`attempts` + 1, `last_error`, and a `next_attempt_at` that backs off (30 s, doubling, at most an hour): rows due
later never hold up the others, so one poison message cannot block the queue. After OUTBOX_MAX_ATTEMPTS
failures the row is parked as dead (`dead_at`): kept, counted in the OutboxDeadMessages metric, and no longer
tried. `attempts` counts every try, successful or not. A row whose topic has no ARN configured is not tried: it
waits, with a `last_error` naming the setting to fill in.

Subscription rows are done the same way, except that they are leased (marked tried and due again in a few
minutes) rather than locked while SNS is called, since the subscription code runs its own short transactions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from finops.db.faults import as_unavailable
from finops.db.postgres import transaction
from finops.notifications import store
from finops.notifications.messages import message_attributes, sns_message
from finops.observability import logger
from finops.settings import get_settings

if TYPE_CHECKING:
    import pg8000.native
    from mypy_boto3_sns import SNSClient

_TOPIC_SETTING = {"alerts": "ALERTS_TOPIC_ARN", "admin": "ADMIN_TOPIC_ARN"}
_MAX_ERROR_LENGTH = 1000


@dataclass(frozen=True)
class PublishReport:
    published: int  # accepted by SNS in this run
    failed: int  # tried and failed in this run (still pending)
    still_pending: int  # unpublished rows left in the outbox after the run, failed ones included


@lru_cache(maxsize=1)
def sns_client() -> SNSClient:
    """The container's SNS client. boto3 honours AWS_ENDPOINT_URL (the local moto server). Short timeouts
    and few retries: an unreachable SNS should fail a row fast and leave it for the next run."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2, "mode": "standard"})
    return boto3.client("sns", config=config)


def topic_arns_from_settings() -> dict[str, str | None]:
    """{"alerts": ALERTS_TOPIC_ARN, "admin": ADMIN_TOPIC_ARN}, as `publish_pending` expects them."""
    settings = get_settings()
    return {"alerts": settings.alerts_topic_arn, "admin": settings.admin_topic_arn}


def publish_pending(
    conn: pg8000.native.Connection,
    sns_client: SNSClient,
    topic_arns: dict[str, str | None],
    *,
    limit: int = 500,
    max_consecutive_connection_errors: int = 3,
    now: datetime | None = None,
) -> PublishReport:
    """Publish up to `limit` pending outbox rows, oldest first. Must be called outside a transaction (it
    commits each row as it goes). After `max_consecutive_connection_errors` rows in a row fail because SNS
    cannot be reached, the run stops and leaves the rest untouched rather than time out on every row.
    Rows of a topic with no ARN in `topic_arns` are not tried: they keep waiting, marked with a `last_error`
    that names the missing setting (once, so a run in the request path costs nothing for them)."""
    require_no_transaction(conn)
    now = now or datetime.now(UTC)
    arns = {topic: arn for topic, arn in topic_arns.items() if arn}
    configured = list(arns)
    _mark_unrouted(conn, [topic for topic in _TOPIC_SETTING if topic not in arns])
    published = failed = connection_errors = 0
    tried: list[str] = []  # rows that failed in this run: not retried until the next run
    for _ in range(limit):
        with transaction(conn):
            row = store.next_due_message(conn, topics=configured, tried=tried, now=now)
            if row is None:
                break
            error, message_id, unreachable = _publish_row(sns_client, arns, row)
            if error is None:
                store.mark_published(conn, row.id, message_id)
            else:
                _record_failure(conn, row.id, error, now)
        if error is None:
            published += 1
            connection_errors = 0
            continue
        failed += 1
        tried.append(str(row.id))
        connection_errors = connection_errors + 1 if unreachable else 0
        if connection_errors >= max_consecutive_connection_errors:
            logger.warning("SNS unreachable: stopping this publish run", extra={"failedInARow": connection_errors})
            break
    return PublishReport(published=published, failed=failed, still_pending=store.pending_messages(conn))


def _record_failure(conn: pg8000.native.Connection, row_id: Any, error: str, now: datetime) -> None:
    """One more failed try: back off, or park the row as dead after the last allowed attempt."""
    failed = store.record_failure(
        conn, row_id, error[:_MAX_ERROR_LENGTH], now, max_attempts=get_settings().outbox_max_attempts
    )
    if failed is not None and failed.dead:
        logger.error(
            "outbox row parked as dead: it is kept, and no longer tried until requeued",
            extra={
                "eventId": str(failed.event_id),
                "kind": failed.kind,
                "topic": failed.topic,
                "budgetId": str(failed.budget_id),
                "attempts": failed.attempts,
            },
        )


@dataclass(frozen=True)
class SyncReport:
    done: int
    failed: int


def sync_pending_subscriptions(
    conn: pg8000.native.Connection,
    sns_client: SNSClient,
    topic_arns: dict[str, str | None],
    *,
    limit: int = 200,
    budget_id: str | None = None,
    now: datetime | None = None,
) -> SyncReport:
    """Bring e-mail subscriptions in step for up to `limit` due subscription rows (of one budget, if given). Each
    row is leased for a few minutes before SNS is called, so a crash leaves it to be retried, and the budget's
    addresses are read when the row is done: the newest state of the budget always wins."""
    from finops.notifications.subscriptions import sync_email_subscriptions

    require_no_transaction(conn)
    now = now or datetime.now(UTC)
    arns = {topic: arn for topic, arn in topic_arns.items() if arn}
    done = failed = 0
    for _ in range(limit):
        request = store.lease_subscription_request(conn, topics=list(arns), budget_id=budget_id, now=now)
        if request is None:
            break
        budget = str(request.budget_id)
        try:
            sync_email_subscriptions(
                conn,
                sns_client,
                arns[request.topic],
                budget_id=budget,
                topic=request.topic,
                emails=store.budget_emails(conn, budget, request.topic),
            )
        except Exception as error:
            logger.warning("subscription change not done", extra={"budgetId": budget, "error": str(error)})
            with transaction(conn):
                _record_failure(conn, request.id, f"{type(error).__name__}: {error}", now)
            failed += 1
            if as_unavailable(error) is not None:
                break  # SNS (or the database) is unreachable: leave the rest for the next run
            continue
        # Done, and so are the older requests for the same budget and topic (they asked for an older state).
        store.complete_subscription_requests(conn, request, now)
        done += 1
    return SyncReport(done=done, failed=failed)


def _mark_unrouted(conn: pg8000.native.Connection, topics: list[str]) -> None:
    for topic in topics:
        error = f"no SNS topic ARN configured for topic '{topic}' (set {_TOPIC_SETTING[topic]})"
        marked = store.mark_unrouted(conn, topic, error)
        if marked:
            logger.warning("notifications waiting for a topic ARN", extra={"topic": topic, "rows": marked})


def _publish_row(
    sns_client: SNSClient, arns: dict[str, str], row: store.MessageRow
) -> tuple[str | None, str | None, bool]:
    """(error or None, SNS message id, whether the error means SNS could not be reached)."""
    from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

    body = json.loads(row.body_json) if isinstance(row.body_json, str) else row.body_json
    log_keys = {
        "eventId": str(row.event_id),
        "topic": row.topic,
        "tenantId": row.tenant_id,
        "budgetId": str(row.budget_id),
    }
    attributes = message_attributes(
        event_id=str(row.event_id),
        tenant_id=row.tenant_id,
        budget_id=str(row.budget_id) if row.budget_id else None,
        event_type=row.event_type,
        severity=row.severity,
    )
    try:
        response = sns_client.publish(
            TopicArn=arns[row.topic],  # only rows of configured topics are selected
            Message=sns_message(row.body_text, body),
            MessageStructure="json",
            Subject=row.subject,
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )
    except (BotoCoreError, ClientError) as error:
        # ClientError: SNS answered no, for this message. BotoCoreError: SNS could not be asked (connection
        # refused, timeout, no credentials), which every following row would hit too, except a malformed request.
        logger.warning("notification not published", extra={**log_keys, "error": str(error)})
        unreachable = isinstance(error, BotoCoreError) and not isinstance(error, ParamValidationError)
        return f"{type(error).__name__}: {error}", None, unreachable
    except Exception as error:
        # Anything else from the client is still this row's failure, not a reason to drop the batch.
        logger.exception("notification not published", extra=log_keys)
        return f"{type(error).__name__}: {error}", None, False
    return None, response["MessageId"], False


def require_no_transaction(conn: pg8000.native.Connection) -> None:
    # pg8000 tracks the server's transaction status (its DB-API layer checks the same attribute).
    if getattr(conn, "_transaction_status", b"I") in (b"T", b"E"):
        raise RuntimeError("call after committing: this function runs its own transactions")
