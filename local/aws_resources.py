"""The local stack's notification resources on the moto server, and a way to read what was sent.

SNS topics `finops-budget-alerts-local` and `finops-admin-alerts-local`, and the SQS queue
`finops-notifications-local` subscribed to both with raw delivery: every message either topic publishes lands
in the queue as its JSON body, with tenantId, budgetId, eventType, severity and eventId as SQS message
attributes (raw delivery carries no Subject; the JSON has it as `subject`).

    python -m local.aws_resources [--endpoint http://127.0.0.1:5005] [--read]

creates them (idempotent) and prints their ARNs, or with `--read` prints the messages waiting in the queue.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Literal

ALERTS_TOPIC = "finops-budget-alerts-local"
ADMIN_TOPIC = "finops-admin-alerts-local"
QUEUE = "finops-notifications-local"


def _client(service: Literal["sns", "sqs"], endpoint_url: str, region: str) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id="testing",  # moto accepts any credentials
        aws_secret_access_key="testing",
    )


def ensure_local_notification_resources(endpoint_url: str, region: str = "us-east-1") -> dict[str, str]:
    """Create the topics, the queue and its raw subscriptions if missing; {"alerts", "admin", "queue_url"}."""
    sns, sqs = _client("sns", endpoint_url, region), _client("sqs", endpoint_url, region)
    topics = {
        "alerts": sns.create_topic(Name=ALERTS_TOPIC)["TopicArn"],  # create_topic returns an existing topic
        "admin": sns.create_topic(Name=ADMIN_TOPIC)["TopicArn"],
    }
    queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    # What real SQS would require of a queue fed by SNS; moto ignores it, but the setup reads like the real one.
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": list(topics.values())}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
    for topic_arn in topics.values():
        existing = {
            s["Endpoint"]: s["SubscriptionArn"]
            for s in sns.list_subscriptions_by_topic(TopicArn=topic_arn).get("Subscriptions", [])
        }
        if queue_arn in existing:
            sns.set_subscription_attributes(
                SubscriptionArn=existing[queue_arn], AttributeName="RawMessageDelivery", AttributeValue="true"
            )
        else:
            sns.subscribe(
                TopicArn=topic_arn,
                Protocol="sqs",
                Endpoint=queue_arn,
                Attributes={"RawMessageDelivery": "true"},
                ReturnSubscriptionArn=True,
            )
    return {**topics, "queue_url": queue_url}


def read_local_notifications(
    endpoint_url: str,
    queue_url: str,
    max_messages: int = 10,
    *,
    wait_seconds: int = 0,
    delete: bool = True,
    region: str = "us-east-1",
) -> list[dict[str, Any]]:
    """Up to `max_messages` notifications from the local queue, oldest first as SQS hands them out:
    {"messageId", "body" (the parsed JSON, or the text if it is not JSON), "attributes" {name: value}}.
    Read messages are deleted, so the next call returns newer ones (`delete=False` leaves them, hidden for
    SQS's visibility timeout)."""
    sqs = _client("sqs", endpoint_url, region)
    messages: list[dict[str, Any]] = []
    while len(messages) < max_messages:
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(10, max_messages - len(messages)),
            MessageAttributeNames=["All"],
            WaitTimeSeconds=wait_seconds if not messages else 0,
        )
        batch = response.get("Messages", [])
        if not batch:
            break
        for message in batch:
            try:
                body: Any = json.loads(message["Body"])
            except ValueError:
                body = message["Body"]
            attributes = {
                name: value.get("StringValue", value.get("BinaryValue"))
                for name, value in message.get("MessageAttributes", {}).items()
            }
            messages.append({"messageId": message["MessageId"], "body": body, "attributes": attributes})
        if delete:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
            )
    return messages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", default=os.environ.get("AWS_ENDPOINT_URL") or "http://127.0.0.1:5005")
    parser.add_argument("--read", action="store_true", help="print (and remove) the messages waiting in the queue")
    args = parser.parse_args(argv)
    resources = ensure_local_notification_resources(args.endpoint)
    if args.read:
        for message in read_local_notifications(args.endpoint, resources["queue_url"], max_messages=100):
            print(json.dumps(message, indent=2, ensure_ascii=False))
    else:
        print(json.dumps(resources, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
