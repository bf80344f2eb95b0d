"""template.yaml as an operator needs it: every log group kept for a set time, an alarm on every way the service
can fail (each function, route and job is covered), schedules that retry and keep what they could not run,
traces free of replies and request bodies, and one dashboard that shows every function and metric."""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from finops import observability
from local.lambda_runtime import FUNCTIONS_DIR
from tests.template.sam_template import ROOT, bucket_events, functions, http_routes, schedules

pytestmark = pytest.mark.template

ALARM_TOPIC = {"Ref": "OpsAlarmTopic"}
DEAD_LETTER_QUEUE = "ScheduleDeadLetterQueue"
# Powertools settings that keep handler replies, exceptions and incoming events out of traces and logs.
# The logger never logs the incoming event (it holds request bodies and e-mail addresses).
PRIVATE_LOGGING = {"POWERTOOLS_LOGGER_LOG_EVENT": "false"}
# Metrics the service's own alarms watch (namespace FinOps) that the code does not emit yet (none now).
PENDING_METRICS: set[str] = set()
EMITTERS = {"add_count", "add_milliseconds", "add_seconds"}
PSEUDO_PARAMETERS = {
    "AWS::AccountId",
    "AWS::NoValue",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackName",
    "AWS::URLSuffix",
}
# EventBridge's bounds for a target's RetryPolicy.
MAX_RETRY_ATTEMPTS, EVENT_AGE_SECONDS = range(0, 186), range(60, 86_401)


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r["Properties"] for name, r in template["Resources"].items() if r.get("Type") == kind}


def _alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return _of_type(template, "AWS::CloudWatch::Alarm")


def _watched(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """Each metric an alarm reads, as {namespace, name, dimensions, stat}, whether plain or in metric math."""
    if "MetricName" in alarm:
        stat = alarm.get("Statistic") or alarm.get("ExtendedStatistic")
        return [_metric(alarm["Namespace"], alarm["MetricName"], alarm.get("Dimensions", []), stat)]
    return [
        _metric(
            stat["Metric"]["Namespace"],
            stat["Metric"]["MetricName"],
            stat["Metric"].get("Dimensions", []),
            stat["Stat"],
        )
        for stat in (query.get("MetricStat") for query in alarm["Metrics"])
        if stat
    ]


def _metric(namespace: str, name: str, dimensions: list[dict[str, Any]], stat: str | None) -> dict[str, Any]:
    return {
        "namespace": namespace,
        "name": name,
        "dimensions": {d["Name"]: d["Value"] for d in dimensions},
        "stat": stat,
    }


def _expression(alarm: dict[str, Any]) -> Any:
    (returned,) = [query for query in alarm.get("Metrics", []) if query.get("ReturnData", True)]
    return returned.get("Expression")


def _alarms_on(template: dict[str, Any], namespace: str, name: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(alarm, watched metric) for every alarm reading `namespace`/`name`."""
    return [
        (alarm, metric)
        for alarm in _alarms(template).values()
        for metric in _watched(alarm)
        if (metric["namespace"], metric["name"]) == (namespace, name)
    ]


def emitted_metrics() -> set[str]:
    """Names of the metrics the layer and the handlers emit (`add_count("Name", ...)` and its siblings)."""
    files = [*(ROOT / "layers" / "finops" / "finops").rglob("*.py"), *FUNCTIONS_DIR.glob("*/app.py")]
    names = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in EMITTERS:
                assert isinstance(node.args[0], ast.Constant), f"{path}:{node.lineno}: name metrics with a literal"
                names.add(str(node.args[0].value))
    return names


# --- traces and logs -------------------------------------------------------------------------------------------


def test_globals_keep_events_out_of_the_logs(template: dict[str, Any]) -> None:
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert {name: variables.get(name) for name in PRIVATE_LOGGING} == PRIVATE_LOGGING
    for logical_id, properties in functions(template).items():
        own = (properties.get("Environment") or {}).get("Variables") or {}
        assert not set(own) & set(PRIVATE_LOGGING), f"{logical_id} overrides the logging settings"


def test_traces_are_lambdas_own_and_no_code_loads_the_xray_sdk() -> None:
    """Tracing: Active traces every invocation without an SDK; the layer leaves out the tracer extra (about 31 MB of
    X-Ray SDK and botocore, 0.4 s of imports per cold start), so nothing may import it, or a function would fail in
    Lambda. With no SDK, no reply or exception (budgets hold e-mail addresses) can be recorded in a trace."""
    sources = [*sorted((ROOT / "layers" / "finops" / "finops").rglob("*.py")), *sorted(FUNCTIONS_DIR.glob("*/app.py"))]
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom | ast.Import):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                assert not any(n.startswith("aws_xray_sdk") for n in names), f"{path}:{node.lineno}"
                if isinstance(node, ast.ImportFrom) and node.module == "aws_lambda_powertools":
                    assert "Tracer" not in {a.name for a in node.names}, f"{path}:{node.lineno}"
    locked = (ROOT / "layers" / "finops" / "requirements.txt").read_text()
    assert re.search(r"^aws-lambda-powertools==", locked, re.M)
    assert not re.search(r"^(aws-xray-sdk|botocore)==", locked, re.M)


# --- log groups -------------------------------------------------------------------------------------------------


def test_every_function_logs_to_its_own_group_with_the_retention_parameter(template: dict[str, Any]) -> None:
    groups = _of_type(template, "AWS::Logs::LogGroup")
    used = Counter()
    for logical_id, properties in functions(template).items():
        group = (properties.get("LoggingConfig") or {}).get("LogGroup")
        assert isinstance(group, dict) and group.get("Ref") in groups, f"{logical_id} has no log group of its own"
        used[group["Ref"]] += 1
        assert groups[group["Ref"]]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, logical_id
    assert all(n == 1 for n in used.values()), f"functions share a log group: {used}"
    assert "LoggingConfig" not in template["Globals"]["Function"]


def test_every_log_group_has_a_retention_period(template: dict[str, Any]) -> None:
    groups = _of_type(template, "AWS::Logs::LogGroup")
    assert "HttpApiAccessLogs" in groups  # the API's access logs too
    for logical_id, group in groups.items():
        assert group.get("RetentionInDays") == {"Ref": "LogRetentionDays"}, logical_id
        assert "${AWS::StackName}" in group["LogGroupName"]["Fn::Sub"], f"{logical_id}: stacks must not collide"
    retention = template["Parameters"]["LogRetentionDays"]
    assert retention["Default"] in retention["AllowedValues"]


# --- schedules --------------------------------------------------------------------------------------------------


def _schedule_events(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, properties in functions(template).items():
        for event in (properties.get("Events") or {}).values():
            if event["Type"] == "Schedule":
                yield logical_id, event["Properties"]


def test_every_schedule_retries_and_parks_what_it_cannot_deliver(template: dict[str, Any]) -> None:
    found = list(_schedule_events(template))
    assert len(found) == len(schedules(template)) >= 4
    for logical_id, event in found:
        retry = event.get("RetryPolicy") or {}
        assert retry.get("MaximumRetryAttempts") in MAX_RETRY_ATTEMPTS, logical_id
        assert retry.get("MaximumEventAgeInSeconds") in EVENT_AGE_SECONDS, logical_id
        assert event.get("DeadLetterConfig") == {"Arn": {"Fn::GetAtt": [DEAD_LETTER_QUEUE, "Arn"]}}, logical_id
        # The queue policy admits the rules of this stack by name.
        assert event["Name"]["Fn::Sub"].startswith("${AWS::StackName}-"), logical_id


def test_scheduled_functions_set_their_own_retries_and_failed_daily_runs_are_kept(template: dict[str, Any]) -> None:
    for logical_id, _ in _schedule_events(template):
        config = functions(template)[logical_id].get("EventInvokeConfig")
        assert config is not None, f"{logical_id}: Lambda's defaults (2 retries, 6 hours) are not a decision"
        assert config["MaximumEventAgeInSeconds"] in EVENT_AGE_SECONDS
        on_failure = ((config.get("DestinationConfig") or {}).get("OnFailure")) or {}
        if logical_id.startswith("Daily"):
            assert config["MaximumRetryAttempts"] >= 1, logical_id  # the daily jobs are idempotent: retry them
            assert on_failure == {"Type": "SQS", "Destination": {"Fn::GetAtt": [DEAD_LETTER_QUEUE, "Arn"]}}


def test_dead_letter_queue_is_encrypted_kept_14_days_and_open_only_to_the_stacks_rules(
    template: dict[str, Any],
) -> None:
    queue = template["Resources"][DEAD_LETTER_QUEUE]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    (policy,) = _of_type(template, "AWS::SQS::QueuePolicy").values()
    assert policy["Queues"] == [{"Ref": DEAD_LETTER_QUEUE}]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    source = statement["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"]
    assert source.endswith(":rule/${AWS::StackName}-*")


# --- alarms -----------------------------------------------------------------------------------------------------


def test_every_alarm_notifies_the_ops_topic_on_alarm_and_recovery(template: dict[str, Any]) -> None:
    alarms = _alarms(template)
    names = Counter(json.dumps(alarm["AlarmName"]) for alarm in alarms.values())
    assert all(n == 1 for n in names.values()), "alarm names must be unique"
    for logical_id, alarm in alarms.items():
        assert alarm["AlarmActions"] == [ALARM_TOPIC], logical_id
        assert alarm["OKActions"] == [ALARM_TOPIC], logical_id
        assert alarm["AlarmName"]["Fn::Sub"].startswith("${AWS::StackName} "), logical_id
        assert alarm.get("TreatMissingData") in ("notBreaching", "breaching"), logical_id
    topic = template["Resources"]["OpsAlarmTopic"]["Properties"]
    # CloudWatch cannot publish to a topic under SNS's AWS-managed key.
    assert topic.get("KmsMasterKeyId") != "alias/aws/sns"
    assert template["Outputs"]["OpsAlarmTopicArn"]["Value"] == ALARM_TOPIC


def test_every_function_has_an_errors_alarm(template: dict[str, Any]) -> None:
    covered = {
        metric["dimensions"]["FunctionName"]["Ref"]
        for alarm, metric in _alarms_on(template, "AWS/Lambda", "Errors")
        if metric["stat"] == "Sum" and alarm["Threshold"] == 1
    }
    assert covered == set(functions(template))


def test_every_route_has_a_p95_latency_alarm(template: dict[str, Any]) -> None:
    settings = template["Resources"]["FinOpsHttpApi"]["Properties"]["DefaultRouteSettings"]
    assert settings["DetailedMetricsEnabled"] is True, "route metrics exist only with detailed metrics"
    covered = set()
    for alarm, metric in _alarms_on(template, "AWS/ApiGateway", "Latency"):
        dimensions = metric["dimensions"]
        assert dimensions["ApiId"] == {"Ref": "FinOpsHttpApi"} and dimensions["Stage"] == "$default"
        assert metric["stat"] == "p95" and alarm["Threshold"] == {"Ref": "ApiLatencyP95Milliseconds"}
        covered.add(dimensions["Route"])
    assert covered == {f"{route.method} {route.path}" for route in http_routes(template)}


def test_every_job_has_a_duration_alarm_at_a_share_of_its_timeout(template: dict[str, Any]) -> None:
    # Scheduled jobs, and the import of files dropped in the bucket (a job that runs up to 15 minutes).
    jobs = {logical_id for logical_id, _ in _schedule_events(template)} | {
        b.logical_id for b in bucket_events(template)
    }
    timeouts = template["Mappings"]["JobTimeouts"]
    covered = set()
    for logical_id, alarm in _alarms(template).items():
        metrics = [m for m in _watched(alarm) if (m["namespace"], m["name"]) == ("AWS/Lambda", "Duration")]
        if not metrics:
            continue
        job = metrics[0]["dimensions"]["FunctionName"]["Ref"]
        text, variables = _expression(alarm)["Fn::Sub"]
        assert text == "100 * duration / (1000 * ${Timeout})", logical_id
        assert variables["Timeout"] == {"Fn::FindInMap": ["JobTimeouts", job, "Seconds"]}, logical_id
        assert timeouts[job]["Seconds"] == functions(template)[job]["Timeout"], f"{job}: mapping != Timeout"
        assert alarm["Threshold"] == {"Ref": "JobDurationPercentOfTimeout"}
        covered.add(job)
    assert covered == jobs


def test_api_5xx_rate_alarm_divides_5xx_by_requests(template: dict[str, Any]) -> None:
    alarm = template["Resources"]["ApiServerErrorRateAlarm"]["Properties"]
    watched = {m["name"]: m for m in _watched(alarm)}
    assert set(watched) == {"5xx", "Count"}
    assert all(m["dimensions"] == {"ApiId": {"Ref": "FinOpsHttpApi"}} and m["stat"] == "Sum" for m in watched.values())
    expression = _expression(alarm)["Fn::Sub"]
    assert "100 * errors / requests" in expression and "${ApiAlarmMinRequests}" in expression
    assert alarm["Threshold"] == {"Ref": "ApiServerErrorRatePercent"}


def test_throttles_are_covered_service_wide(template: dict[str, Any]) -> None:
    # No function has reserved concurrency: a throttle means the shared pool is exhausted (template comment).
    ((alarm, metric),) = _alarms_on(template, "AWS/Lambda", "Throttles")
    assert metric["dimensions"] == {} and metric["stat"] == "Sum" and alarm["Threshold"] == 1
    for logical_id, properties in functions(template).items():
        assert "ReservedConcurrentExecutions" not in properties, f"{logical_id}: then it needs its own alarm"


def test_dead_letters_are_alarmed(template: dict[str, Any]) -> None:
    ((alarm, metric),) = _alarms_on(template, "AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert metric["dimensions"] == {"QueueName": {"Fn::GetAtt": [DEAD_LETTER_QUEUE, "QueueName"]}}
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")


@pytest.mark.parametrize(
    ("metric", "threshold", "missing"),
    [
        ("OutboxOldestPendingSeconds", {"Ref": "OutboxMaxAgeSeconds"}, "breaching"),  # also the drainer's heartbeat
        ("OutboxDeadMessages", 1, "notBreaching"),
        ("EnforcementDegraded", {"Ref": "EnforcementDegradedThreshold"}, "notBreaching"),
        ("BudgetChecksFailed", 1, "notBreaching"),
    ],
)
def test_service_metric_alarm_reads_what_the_code_emits(
    template: dict[str, Any], metric: str, threshold: Any, missing: str
) -> None:
    ((alarm, watched),) = _alarms_on(template, observability.METRICS_NAMESPACE, metric)
    assert watched["dimensions"] == {"service": observability.SERVICE_NAME}, "Powertools' only dimension"
    assert (alarm["Threshold"], alarm["TreatMissingData"]) == (threshold, missing)
    assert metric in emitted_metrics() | PENDING_METRICS


def test_every_alarm_metric_of_the_service_is_emitted_by_the_code(template: dict[str, Any]) -> None:
    alarmed = {m["name"] for alarm in _alarms(template).values() for m in _watched(alarm) if m["namespace"] == "FinOps"}
    assert alarmed - emitted_metrics() <= PENDING_METRICS, "an alarm on a metric nothing emits never fires"


def test_every_threshold_parameter_is_used_by_an_alarm(template: dict[str, Any]) -> None:
    text = json.dumps(_alarms(template))
    for name in (
        "ApiServerErrorRatePercent",
        "ApiLatencyP95Milliseconds",
        "ApiAlarmMinRequests",
        "JobDurationPercentOfTimeout",
        "OutboxMaxAgeSeconds",
        "EnforcementDegradedThreshold",
    ):
        assert "Default" in template["Parameters"][name], name
        assert f'"Ref": "{name}"' in text or f"${{{name}}}" in text, f"{name} is not used by any alarm"


def test_alarm_email_subscription_exists_only_when_an_address_is_given(template: dict[str, Any]) -> None:
    subscription = template["Resources"]["OpsAlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["TopicArn"] == ALARM_TOPIC
    assert template["Parameters"]["AlarmEmail"]["Default"] == ""
    pattern = re.compile(template["Parameters"]["AlarmEmail"]["AllowedPattern"])
    assert pattern.fullmatch("") and pattern.fullmatch("oncall@example.com") and not pattern.fullmatch("not an email")


# --- dashboard --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dashboard(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The dashboard body's text (with ${...} references) and its JSON, references replaced by placeholders."""
    (properties,) = _of_type(template, "AWS::CloudWatch::Dashboard").values()
    text = properties["DashboardBody"]["Fn::Sub"]
    return text, json.loads(re.sub(r"\$\{[^}]+\}", "placeholder", text))


def test_dashboard_body_is_json_of_widgets(dashboard: tuple[str, dict[str, Any]]) -> None:
    _, body = dashboard
    assert body["widgets"]
    for widget in body["widgets"]:
        assert {"type", "x", "y", "width", "height", "properties"} <= set(widget)
        assert widget["x"] + widget["width"] <= 24


def test_dashboard_shows_every_function_and_every_resource_it_references_exists(
    template: dict[str, Any], dashboard: tuple[str, dict[str, Any]]
) -> None:
    text, _ = dashboard
    referenced = {name.split(".")[0] for name in re.findall(r"\$\{([^}]+)\}", text)}
    missing = set(functions(template)) - referenced
    assert not missing, f"functions missing from the dashboard: {sorted(missing)}"
    assert {"FinOpsHttpApi", DEAD_LETTER_QUEUE} <= referenced
    assert referenced <= set(template["Resources"]) | PSEUDO_PARAMETERS


def test_dashboard_shows_every_metric_the_code_emits(dashboard: tuple[str, dict[str, Any]]) -> None:
    _, body = dashboard
    shown = {
        row[1]
        for widget in body["widgets"]
        for row in widget["properties"].get("metrics", [])
        if row and row[0] == observability.METRICS_NAMESPACE and row[2:4] == ["service", observability.SERVICE_NAME]
    }
    assert emitted_metrics() | PENDING_METRICS <= shown


# --- references ---------------------------------------------------------------------------------------------------


def _references(node: Any) -> Iterator[str]:
    """Every name a Ref, GetAtt, Sub or FindInMap points at (cfn-lint does not look inside SAM properties)."""
    if isinstance(node, list):
        for item in node:
            yield from _references(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                yield value
            elif key == "Fn::GetAtt":
                yield value[0]
            elif key == "Fn::Sub":
                text, variables = (value, {}) if isinstance(value, str) else value
                for name in re.findall(r"\$\{([^!}][^}]*)\}", text):
                    if name not in variables:
                        yield name.split(".")[0]
                yield from _references(variables)
            elif key == "Fn::FindInMap":
                yield f"Mappings:{value[0]}:{value[1]}"
            else:
                yield from _references(value)


def test_every_reference_names_something_the_template_defines(template: dict[str, Any]) -> None:
    known = set(template["Parameters"]) | set(template["Resources"]) | PSEUDO_PARAMETERS
    known |= {f"Mappings:{name}:{key}" for name, keys in template["Mappings"].items() for key in keys}
    for section in ("Resources", "Outputs", "Globals", "Conditions"):
        unknown = set(_references(template[section])) - known
        assert not unknown, f"{section} refers to undefined names: {sorted(unknown)}"


# --- timeouts ---------------------------------------------------------------------------------------------------


def test_every_dependency_gives_up_before_its_function_times_out(template: dict[str, Any]) -> None:
    """A slow or down database must answer 503 (or a degraded check), never a Lambda time-out: for each function,
    connecting and running one statement or query within the settings' limits ends before its Timeout."""
    globals_function = template["Globals"]["Function"]
    defaults = globals_function["Environment"]["Variables"]
    for logical_id, properties in functions(template).items():
        env = {**defaults, **((properties.get("Environment") or {}).get("Variables") or {})}
        timeout = float(properties.get("Timeout", globals_function["Timeout"]))
        # The ClickHouse socket waits 2 s longer than max_execution_time (finops.db.clickhouse).
        clickhouse = (
            float(env["CLICKHOUSE_CONNECT_TIMEOUT_SECONDS"]) + float(env["CLICKHOUSE_QUERY_TIMEOUT_SECONDS"]) + 2
        )
        postgres = float(env["POSTGRES_CONNECT_TIMEOUT_SECONDS"]) + float(env["POSTGRES_STATEMENT_TIMEOUT_MS"]) / 1000
        assert clickhouse < timeout, f"{logical_id}: ClickHouse may take {clickhouse} s of its {timeout} s"
        assert postgres < timeout, f"{logical_id}: PostgreSQL may take {postgres} s of its {timeout} s"
        assert float(env["POSTGRES_LOCK_TIMEOUT_MS"]) <= float(env["POSTGRES_STATEMENT_TIMEOUT_MS"]), logical_id
