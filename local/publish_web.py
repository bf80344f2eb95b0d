"""Publish the dashboard (web/) to a deployed stack: `make publish-web ENV=dev` (also the last step of `make deploy`).

Reads the stack's outputs (template.yaml: DashboardBucketName, DashboardDistributionId, DashboardConfig), uploads
every file of web/ with its content type, writes config.json from DashboardConfig (the page's sign-in settings,
made from the stack's parameters), removes files no longer in web/, then invalidates CloudFront's copies. Files
are sent with `Cache-Control: no-cache`: browsers revalidate each load (a 304 is cheap), so a release shows at
once and a page never mixes modules of two releases. A stack deployed without a dashboard is left alone.

Runs on the deploying machine (never in Lambda), with that machine's AWS credentials.

Usage: python -m local.publish_web --config-env dev
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

from local.lambda_runtime import ROOT
from local.web import CONTENT_TYPES, WEB_DIR

CONFIG_FILE = "config.json"
CACHE_CONTROL = "no-cache"


def stack_settings(config_env: str, samconfig: Path = ROOT / "samconfig.toml") -> tuple[str, str]:
    """(stack name, region) of a samconfig.toml environment."""
    settings = tomllib.loads(samconfig.read_text())[config_env]["global"]["parameters"]
    return str(settings["stack_name"]), str(settings["region"])


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def site_files(web_dir: Path = WEB_DIR) -> dict[str, Path]:
    """Object key -> file, for every file the local server would serve (known types, no dotfiles)."""
    return {
        path.relative_to(web_dir).as_posix(): path
        for path in sorted(web_dir.rglob("*"))
        if path.is_file()
        and path.suffix in CONTENT_TYPES
        and not any(part.startswith(".") for part in path.relative_to(web_dir).parts)
        and path.name != CONFIG_FILE
    }


def publish(
    s3: Any, cloudfront: Any, *, bucket: str, distribution_id: str, config: dict[str, Any], web_dir: Path = WEB_DIR
) -> list[str]:
    """Uploads the site and its config, deletes stale objects, invalidates the cache; returns the keys written."""
    files = site_files(web_dir)
    for key, path in files.items():
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=path.read_bytes(),
            ContentType=CONTENT_TYPES[path.suffix],
            CacheControl=CACHE_CONTROL,
        )
    s3.put_object(
        Bucket=bucket,
        Key=CONFIG_FILE,
        Body=json.dumps(config).encode(),
        ContentType=CONTENT_TYPES[".json"],
        CacheControl=CACHE_CONTROL,
    )
    written = [*files, CONFIG_FILE]
    stale = [
        {"Key": item["Key"]}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for item in page.get("Contents", [])
        if item["Key"] not in written
    ]
    for start in range(0, len(stale), 1000):  # DeleteObjects takes at most 1,000 keys
        s3.delete_objects(Bucket=bucket, Delete={"Objects": stale[start : start + 1000], "Quiet": True})
    cloudfront.create_invalidation(
        DistributionId=distribution_id,
        InvalidationBatch={
            "Paths": {"Quantity": 1, "Items": ["/*"]},
            "CallerReference": f"publish-web-{time.time_ns()}",
        },
    )
    return written


def main(argv: list[str] | None = None) -> int:
    import boto3

    parser = argparse.ArgumentParser(description="Upload web/ to the stack's dashboard bucket and refresh CloudFront.")
    parser.add_argument("--config-env", default="default", help="samconfig.toml environment (stack name and region)")
    args = parser.parse_args(argv)
    stack_name, region = stack_settings(args.config_env)
    outputs = stack_outputs(boto3.client("cloudformation", region_name=region), stack_name)
    if "DashboardBucketName" not in outputs:
        print(f"{stack_name} has no dashboard (DashboardSignInUrl is not set): nothing to publish")
        return 0
    written = publish(
        boto3.client("s3", region_name=region),
        boto3.client("cloudfront", region_name=region),
        bucket=outputs["DashboardBucketName"],
        distribution_id=outputs["DashboardDistributionId"],
        config=json.loads(outputs["DashboardConfig"]),
    )
    print(
        f"published {len(written)} files to s3://{outputs['DashboardBucketName']}; dashboard: {outputs['DashboardUrl']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
