"""Publish the notification outbox to SNS: nothing lost when SNS is down, each event sent once.

"Exactly once", precisely: every outbox row is published until SNS accepts it once, and then never again.
Rows are taken oldest first, one at a time, with `SELECT ... FOR UPDATE SKIP LOCKED`, so two publishers
running at the same time (the daily check and the real-time path, two Lambda containers) never take the same
row; each row is committed as soon as it is handled, so a crash loses nothing. The one gap no outbox can
close: a crash after SNS accepted a message but before its row's UPDATE committed re-publishes that single
row on the next run. The event id travels in the message (`eventId` attribute and JSON) so consumers
drop that duplicate.

A failure (SNS unreachable, throttled, a wrong topic ARN) leaves the row pending with `attempts` + 1 and
`last_error`; the next run retries it. `attempts` counts every try, successful or not. A row whose topic
has no ARN configured is not tried: it waits, with a `last_error` naming the setting to fill in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

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
) -> PublishReport:
    """Publish up to `limit` pending outbox rows, oldest first. Must be called outside a transaction (it
    commits each row as it goes). After `max_consecutive_connection_errors` rows in a row fail because SNS
    cannot be reached, the run stops and leaves the rest untouched rather than time out on every row.
    Rows of a topic with no ARN in `topic_arns` are not tried: they keep waiting, marked with a `last_error`
    that names the missing setting (once, so a run in the request path costs nothing for them)."""
    require_no_transaction(conn)
    arns = {topic: arn for topic, arn in topic_arns.items() if arn}
    configured = list(arns)
    _mark_unrouted(conn, [topic for topic in _TOPIC_SETTING if topic not in arns])
    published = failed = connection_errors = 0
    tried: list[str] = []  # rows that failed in this run: not retried until the next run
    for _ in range(limit):
        conn.run("BEGIN")
        try:
            rows = conn.run(
                "SELECT id, event_id, topic, tenant_id, budget_id, event_type, severity, subject, body_text, body_json "
                "FROM finops_notification_outbox "
                "WHERE published_at IS NULL AND topic = ANY(CAST(:topics AS text[])) "
                "AND NOT (id = ANY(CAST(:tried AS uuid[]))) "
                "ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED",
                topics=configured,
                tried=tried,
            )
            if not rows:
                conn.run("COMMIT")
                break
            row_id, error, message_id, unreachable = _publish_row(sns_client, arns, rows[0])
            if error is None:
                conn.run(
                    "UPDATE finops_notification_outbox SET published_at = now(), message_id = :message_id, "
                    "attempts = attempts + 1 WHERE id = :id",
                    id=row_id,
                    message_id=message_id,
                )
            else:
                conn.run(
                    "UPDATE finops_notification_outbox SET attempts = attempts + 1, last_error = :error WHERE id = :id",
                    id=row_id,
                    error=error[:_MAX_ERROR_LENGTH],
                )
            conn.run("COMMIT")
        except BaseException:
            conn.run("ROLLBACK")
            raise
        if error is None:
            published += 1
            connection_errors = 0
            continue
        failed += 1
        tried.append(str(row_id))
        connection_errors = connection_errors + 1 if unreachable else 0
        if connection_errors >= max_consecutive_connection_errors:
            logger.warning("SNS unreachable: stopping this publish run", extra={"failedInARow": connection_errors})
            break
    still_pending = conn.run("SELECT count(*) FROM finops_notification_outbox WHERE published_at IS NULL")[0][0]
    return PublishReport(published=published, failed=failed, still_pending=int(still_pending))


def _mark_unrouted(conn: pg8000.native.Connection, topics: list[str]) -> None:
    for topic in topics:
        error = f"no SNS topic ARN configured for topic '{topic}' (set {_TOPIC_SETTING[topic]})"
        conn.run(
            "UPDATE finops_notification_outbox SET last_error = :error "
            "WHERE published_at IS NULL AND topic = :topic AND last_error IS DISTINCT FROM :error",
            topic=topic,
            error=error,
        )
        if conn.row_count:
            logger.warning("notifications waiting for a topic ARN", extra={"topic": topic, "rows": conn.row_count})


def _publish_row(
    sns_client: SNSClient, arns: dict[str, str], row: list[Any]
) -> tuple[Any, str | None, str | None, bool]:
    """(row id, error or None, SNS message id, whether the error means SNS could not be reached)."""
    from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

    row_id, event_id, topic, tenant_id, budget_id, event_type, severity, subject, body_text, body_json = row
    body = json.loads(body_json) if isinstance(body_json, str) else body_json
    log_keys = {"eventId": str(event_id), "topic": topic, "tenantId": tenant_id, "budgetId": str(budget_id)}
    attributes = message_attributes(
        event_id=str(event_id),
        tenant_id=tenant_id,
        budget_id=str(budget_id) if budget_id else None,
        event_type=event_type,
        severity=severity,
    )
    try:
        response = sns_client.publish(
            TopicArn=arns[topic],  # only rows of configured topics are selected
            Message=sns_message(body_text, body),
            MessageStructure="json",
            Subject=subject,
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )
    except (BotoCoreError, ClientError) as error:
        # ClientError: SNS answered no, for this message. BotoCoreError: SNS could not be asked (connection
        # refused, timeout, no credentials), which every following row would hit too, except a malformed request.
        logger.warning("notification not published", extra={**log_keys, "error": str(error)})
        unreachable = isinstance(error, BotoCoreError) and not isinstance(error, ParamValidationError)
        return row_id, f"{type(error).__name__}: {error}", None, unreachable
    except Exception as error:
        # Anything else from the client is still this row's failure, not a reason to drop the batch.
        logger.exception("notification not published", extra=log_keys)
        return row_id, f"{type(error).__name__}: {error}", None, False
    return row_id, None, response["MessageId"], False


def require_no_transaction(conn: pg8000.native.Connection) -> None:
    # pg8000 tracks the server's transaction status (its DB-API layer checks the same attribute).
    if getattr(conn, "_transaction_status", b"I") in (b"T", b"E"):
        raise RuntimeError("call after committing: this function runs its own transactions")
