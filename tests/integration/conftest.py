"""Fixtures for integration tests that need AWS: moto in-process, SNS topics and SQS queues."""

import uuid

import boto3
import pytest
from moto import mock_aws

from finops.notifications import publisher

REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch):
    """moto in-process; fake credentials so nothing can reach a real account."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    # The layer keeps one SNS client per container: a test must not inherit one made for another endpoint.
    publisher.sns_client.cache_clear()
    with mock_aws():
        yield
    publisher.sns_client.cache_clear()


@pytest.fixture
def sns(aws):
    return boto3.client("sns", region_name=REGION)


@pytest.fixture
def sqs(aws):
    return boto3.client("sqs", region_name=REGION)


@pytest.fixture
def topics(sns):
    return {
        "alerts": sns.create_topic(Name="finops-budget-alerts-test")["TopicArn"],
        "admin": sns.create_topic(Name="finops-admin-alerts-test")["TopicArn"],
    }


def make_queue(sns, sqs, topic_arns, *, raw=True, filter_policy=None):
    """A queue subscribed to `topic_arns`; returns its URL."""
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:10]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attributes = {"RawMessageDelivery": "true" if raw else "false"}
    if filter_policy is not None:
        attributes |= {"FilterPolicy": filter_policy, "FilterPolicyScope": "MessageAttributes"}
    for topic_arn in topic_arns:
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes=attributes)
    return url


@pytest.fixture
def queue(sns, sqs, topics):
    return make_queue(sns, sqs, topics.values())


def drain(sqs, url):
    messages = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
        "Messages", []
    ):
        messages += batch
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return messages
