"""`make publish-web`: the dashboard's files and config.json go to the stack's bucket with their types, stale files
go away, CloudFront is told to refresh; a stack without a dashboard is left alone (moto stands in for AWS)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.publish_web import publish, site_files, stack_outputs, stack_settings
from local.web import WEB_DIR

REGION = "us-east-1"
CONFIG = {"signIn": "oidc", "authorizeUrl": "https://login.example.com/oauth2/authorize", "clientId": "abc"}


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="dashboard-files")
        cloudfront = boto3.client("cloudfront", region_name=REGION)
        distribution = cloudfront.create_distribution(
            DistributionConfig={
                "CallerReference": "test",
                "Comment": "dashboard",
                "Enabled": True,
                "Origins": {
                    "Quantity": 1,
                    "Items": [
                        {
                            "Id": "files",
                            "DomainName": "dashboard-files.s3.amazonaws.com",
                            "S3OriginConfig": {"OriginAccessIdentity": ""},
                        }
                    ],
                },
                "DefaultCacheBehavior": {
                    "TargetOriginId": "files",
                    "ViewerProtocolPolicy": "redirect-to-https",
                    "TrustedSigners": {"Enabled": False, "Quantity": 0},
                    "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                    "MinTTL": 0,
                },
            }
        )["Distribution"]
        yield {"s3": s3, "cloudfront": cloudfront, "distribution_id": distribution["Id"]}


def test_every_file_goes_up_with_its_type_and_config_json_from_the_stack(aws: dict[str, Any]) -> None:
    aws["s3"].put_object(Bucket="dashboard-files", Key="js/removed-module.js", Body=b"old")

    written = publish(
        aws["s3"], aws["cloudfront"], bucket="dashboard-files", distribution_id=aws["distribution_id"], config=CONFIG
    )

    keys = {o["Key"] for o in aws["s3"].list_objects_v2(Bucket="dashboard-files")["Contents"]}
    assert keys == set(written) == {*site_files(), "config.json"}
    assert {"index.html", "app.css", "js/app.js", "js/views/overview.js"} <= keys
    page = aws["s3"].get_object(Bucket="dashboard-files", Key="index.html")
    assert page["ContentType"] == "text/html; charset=utf-8" and page["CacheControl"] == "no-cache"
    assert page["Body"].read() == (WEB_DIR / "index.html").read_bytes()
    assert (
        aws["s3"].get_object(Bucket="dashboard-files", Key="js/app.js")["ContentType"]
        == "text/javascript; charset=utf-8"
    )
    assert json.loads(aws["s3"].get_object(Bucket="dashboard-files", Key="config.json")["Body"].read()) == CONFIG
    invalidations = aws["cloudfront"].list_invalidations(DistributionId=aws["distribution_id"])["InvalidationList"]
    assert invalidations["Quantity"] == 1


def test_only_servable_files_are_published(tmp_path: Path) -> None:
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "app.js").write_text("")
    (tmp_path / ".env").write_text("SECRET=1")
    (tmp_path / "notes.md").write_text("")
    (tmp_path / "config.json").write_text("{}")  # the stack's config replaces any local one
    assert list(site_files(tmp_path)) == ["js/app.js"]


def test_the_stack_and_its_outputs_are_found_from_samconfig(aws: dict[str, Any]) -> None:
    assert stack_settings("dev") == ("finops-dev", "us-east-1")
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {
            "DashboardBucketName": {"Value": "dashboard-files"},
            "DashboardConfig": {"Value": json.dumps(CONFIG)},
        },
    }
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    cloudformation.create_stack(StackName="finops-dev", TemplateBody=json.dumps(template))
    outputs = stack_outputs(cloudformation, "finops-dev")
    assert outputs["DashboardBucketName"] == "dashboard-files"
    assert json.loads(outputs["DashboardConfig"]) == CONFIG
