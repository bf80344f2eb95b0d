"""Read template.yaml for the template tests, independently of the local server's own reader.

The tests check the template against the code, so they read it on their own: a bug in the local server's
reader must not hide a bug in the template. Only the YAML loader below both (CloudFormation's short tags in their
long form, local/cfn_yaml.py) is shared.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.cfn_yaml import load_cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"
FUNCTION_TYPE = "AWS::Serverless::Function"
SCHEDULE_TYPES = ("Schedule", "ScheduleV2")


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template with its `Fn::ForEach` loops expanded, as CloudFormation's AWS::LanguageExtensions would."""
    document = load_cfn_yaml(path)
    for section in ("Resources", "Outputs"):
        if section in document:
            document[section] = expand_for_each(document[section])
    return document


def expand_for_each(section: dict[str, Any]) -> dict[str, Any]:
    """Replace each `Fn::ForEach::<name>: [Identifier, [values], {OutputKey: body}]` by one copy of its entries per
    value: `${Identifier}` in any text becomes the value, `&{Identifier}` the value without non-alphanumerics, and
    `{"Ref": "Identifier"}` the value itself. Only literal lists of values are supported (all the template uses)."""
    expanded: dict[str, Any] = {}
    for key, value in section.items():
        if not key.startswith("Fn::ForEach::"):
            expanded[key] = value
            continue
        identifier, collection, outputs = value
        assert isinstance(collection, list), f"{key}: only a literal list is expanded here"
        for item in collection:
            copies = {
                _substitute(name, identifier, item): _substitute(body, identifier, item)
                for name, body in outputs.items()
            }
            for name, body in expand_for_each(copies).items():
                assert name not in expanded, f"{key} makes {name} twice"
                expanded[name] = body
    return expanded


def _substitute(node: Any, identifier: str, value: str) -> Any:
    if isinstance(node, str):
        return node.replace(f"${{{identifier}}}", value).replace(
            f"&{{{identifier}}}", re.sub(r"[^A-Za-z0-9]", "", value)
        )
    if isinstance(node, list):
        return [_substitute(item, identifier, value) for item in node]
    if isinstance(node, dict):
        if node == {"Ref": identifier}:
            return value
        result = {_substitute(k, identifier, value): _substitute(v, identifier, value) for k, v in node.items()}
        target = result.get("Ref")
        if isinstance(target, dict) and set(target) == {"Fn::Sub"} and "${" not in str(target["Fn::Sub"]):
            return {"Ref": target["Fn::Sub"]}  # `!Ref {Fn::Sub: "${Identifier}"}`: a Ref to the generated name
        return result
    return node


@dataclass(frozen=True)
class HttpRoute:
    logical_id: str
    function: str  # folder under functions/
    method: str
    path: str
    api: str | None  # logical id the route's ApiId refers to


@dataclass(frozen=True)
class ScheduleEvent:
    logical_id: str
    function: str
    kind: str  # Schedule (EventBridge rule) or ScheduleV2 (EventBridge Scheduler)
    expression: str
    timezone: str | None
    enabled: bool


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Logical id -> properties of every AWS::Serverless::Function."""
    return {
        logical_id: resource.get("Properties") or {}
        for logical_id, resource in template["Resources"].items()
        if resource.get("Type") == FUNCTION_TYPE
    }


def function_folder(properties: dict[str, Any]) -> str:
    """`functions/get_costs/` -> `get_costs`; anything else is reported as it is."""
    code_uri = str(properties.get("CodeUri", ""))
    parts = Path(code_uri.rstrip("/")).parts
    return parts[1] if len(parts) == 2 and parts[0] == "functions" else code_uri


def _events(template: dict[str, Any], *kinds: str) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(logical id, function folder, event type, event properties) of every event of these types."""
    for logical_id, properties in functions(template).items():
        for event in (properties.get("Events") or {}).values():
            if event.get("Type") in kinds:
                yield logical_id, function_folder(properties), str(event["Type"]), event.get("Properties") or {}


def http_routes(template: dict[str, Any]) -> list[HttpRoute]:
    return [
        HttpRoute(
            logical_id=logical_id,
            function=folder,
            method=str(props.get("Method", "")).upper(),
            path=str(props.get("Path", "")),
            api=props["ApiId"].get("Ref") if isinstance(props.get("ApiId"), dict) else None,
        )
        for logical_id, folder, _, props in _events(template, "HttpApi")
    ]


@dataclass(frozen=True)
class BucketEvent:
    logical_id: str
    function: str
    bucket: str | None  # logical id of the bucket
    events: str
    prefix: str | None


def bucket_events(template: dict[str, Any]) -> list[BucketEvent]:
    """The S3 notifications that invoke functions (a file dropped in a bucket)."""
    found = []
    for logical_id, folder, _, props in _events(template, "S3"):
        rules = ((props.get("Filter") or {}).get("S3Key") or {}).get("Rules") or []
        bucket = props.get("Bucket")
        found.append(
            BucketEvent(
                logical_id=logical_id,
                function=folder,
                bucket=bucket.get("Ref") if isinstance(bucket, dict) else None,
                events=str(props.get("Events")),
                prefix=next((r["Value"] for r in rules if r.get("Name") == "prefix"), None),
            )
        )
    return found


def schedules(template: dict[str, Any]) -> list[ScheduleEvent]:
    return [
        ScheduleEvent(
            logical_id=logical_id,
            function=folder,
            kind=kind,
            expression=str(props.get("Schedule") or props.get("ScheduleExpression") or ""),
            timezone=props.get("ScheduleExpressionTimezone"),
            enabled=props.get("Enabled", True) is not False and props.get("State", "ENABLED") != "DISABLED",
        )
        for logical_id, folder, kind, props in _events(template, *SCHEDULE_TYPES)
    ]
