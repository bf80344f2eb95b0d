"""The dashboard's part of template.yaml: a private bucket behind CloudFront, the API on the same origin, the
same security headers and page routes as the local server, and a config the page can read."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from local.web import CONTENT_SECURITY_POLICY, WEB_DIR
from tests.template.sam_template import ROOT

pytestmark = pytest.mark.template

CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
ROUTE_PREFIXES = ("/v1/", "/api/")


def dashboard_resources(template: dict[str, Any]) -> dict[str, Any]:
    return {name: r for name, r in template["Resources"].items() if name.startswith("Dashboard")}


def test_the_dashboard_is_deployed_only_when_its_sign_in_is_configured(template: dict[str, Any]) -> None:
    assert template["Conditions"]["WithDashboard"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "DashboardSignInUrl"}, ""]}]}
    resources = dashboard_resources(template)
    assert {r["Type"] for r in resources.values()} >= {
        "AWS::S3::Bucket",
        "AWS::CloudFront::Distribution",
        "AWS::CloudFront::OriginAccessControl",
    }
    assert all(r.get("Condition") == "WithDashboard" for r in resources.values())
    outputs = {name: o for name, o in template["Outputs"].items() if name.startswith("Dashboard")}
    assert outputs and all(o.get("Condition") == "WithDashboard" for o in outputs.values())
    assert all(
        template["Parameters"][name]["Default"] == ""
        for name in ("DashboardSignInUrl", "DashboardTokenUrl", "DashboardClientId")
    )


def test_the_bucket_is_private_and_readable_by_the_distribution_only(template: dict[str, Any]) -> None:
    bucket = template["Resources"]["DashboardBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    statements = template["Resources"]["DashboardBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    read = next(s for s in statements if s["Effect"] == "Allow")
    assert read["Principal"] == {"Service": "cloudfront.amazonaws.com"} and read["Action"] == "s3:GetObject"
    assert "${DashboardDistribution}" in read["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
    origin = template["Resources"]["DashboardDistribution"]["Properties"]["DistributionConfig"]["Origins"][0]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["DashboardOriginAccessControl", "Id"]}


def test_api_paths_reach_the_api_uncached_with_the_callers_authorization(template: dict[str, Any]) -> None:
    config = template["Resources"]["DashboardDistribution"]["Properties"]["DistributionConfig"]
    behaviours = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    assert set(behaviours) == {f"{prefix}*" for prefix in ROUTE_PREFIXES}
    routes = [
        e["Properties"]["Path"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Serverless::Function"
        for e in r["Properties"].get("Events", {}).values()
        if e["Type"] == "HttpApi"
    ]
    assert routes and all(path.startswith(ROUTE_PREFIXES) for path in routes), (
        "a route the dashboard's origin would not reach"
    )
    for behaviour in behaviours.values():
        assert behaviour["TargetOriginId"] == "api"
        assert behaviour["CachePolicyId"] == CACHING_DISABLED  # CloudFront forwards Authorization only uncached
        assert behaviour["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST  # API Gateway needs its own Host
        assert {"GET", "POST", "PATCH", "DELETE"} <= set(behaviour["AllowedMethods"])


def test_security_headers_are_the_local_servers_plus_the_token_endpoint(template: dict[str, Any]) -> None:
    headers = template["Resources"]["DashboardSecurityHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"][
        "SecurityHeadersConfig"
    ]
    deployed, variables = headers["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]
    assert deployed == CONTENT_SECURITY_POLICY.replace("connect-src 'self'", "connect-src 'self' https://${TokenHost}")
    assert variables["TokenHost"] == {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "DashboardTokenUrl"}]}]}


def test_the_config_output_is_json_with_every_setting_the_page_reads(template: dict[str, Any]) -> None:
    rendered = re.sub(
        r"\$\{([A-Za-z]+)\}", lambda m: f"<{m.group(1)}>", template["Outputs"]["DashboardConfig"]["Value"]["Fn::Sub"]
    )
    config = json.loads(rendered)
    assert config["signIn"] == "oidc"
    read_by_page = set(re.findall(r"\bconfig\.(?!json)([A-Za-z]+)", (WEB_DIR / "js" / "auth.js").read_text()))
    assert read_by_page <= set(config), (
        f"the page reads settings the stack does not provide: {read_by_page - set(config)}"
    )
    for placeholder in re.findall(r"<([A-Za-z]+)>", rendered):
        assert placeholder in template["Parameters"], placeholder


def test_publish_web_is_the_last_step_of_deploy() -> None:
    makefile = (ROOT / "Makefile").read_text()
    deploy = makefile.split("\ndeploy:", 1)[1].split("\n\n", 1)[0]
    assert deploy.strip().splitlines()[-1].strip() == "$(BIN)/python -m local.publish_web --config-env $(ENV)"
