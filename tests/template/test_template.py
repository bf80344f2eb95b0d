"""template.yaml against the code: SAM accepts and builds it, and its routes and schedules match the handlers."""

from __future__ import annotations

import ast
import json
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from local.lambda_runtime import FUNCTIONS_DIR, function_names, load_function
from local.openapi import router_routes
from tests.template.aws_cron import parse_schedule, runs_daily_at
from tests.template.conftest import run_sam
from tests.template.handler_imports import layer_modules, reaches_clickhouse, reaches_postgres
from tests.template.sam_template import ROOT, bucket_events, function_folder, functions, http_routes, schedules

pytestmark = pytest.mark.template

HANDLER = "app.lambda_handler"
# The daily jobs, in the order they must run (UTC hour): the budget check and the anomaly scan read the spend
# the aggregation has just completed.
DAILY_JOBS = {
    "run_daily_aggregation": ("DailyAggregationScheduleFunction", 1),
    "run_daily_budget_check": ("DailyBudgetCheckScheduleFunction", 2),
    "run_daily_anomaly_detection": ("DailyAnomalyDetectionScheduleFunction", 3),
}
OUTBOX_DRAINER = "drain_notification_outbox"
# Route prefixes: the cost explorer's, and the budgets' (the seed's paths).
ROUTE_PREFIXES = ("/v1/analytics/finops/", "/api/ai-budget/finops/")
TOPICS = {"ALERTS_TOPIC_ARN": "BudgetAlertsTopic", "ADMIN_TOPIC_ARN": "AdminAlertsTopic"}
# Least privilege, in one table: what each function reaches. Every grant a function has in template.yaml (the
# two connection secrets, sns:Publish on the alert topics, managing email subscriptions) is derived from its row,
# and the rows are checked against the handlers' imports (what an import graph cannot prove, that the outbox
# drainer never touches ClickHouse, tests/integration/test_drain_notification_outbox.py shows by running it).
CLICKHOUSE, POSTGRES, PUBLISH, SUBSCRIBE = "clickhouse", "postgres", "publish", "subscribe"
IMPORT_BUCKET = "import_bucket"  # reads the FOCUS files dropped in the import bucket
READS_COSTS = frozenset({CLICKHOUSE})
READS_BUDGETS = READS_COSTS | {POSTGRES}  # budgets live in PostgreSQL, their spend in ClickHouse
FIRES_ALERTS = READS_BUDGETS | {PUBLISH}  # can fire alerts, and publishes the outbox after committing them
CHANGES_BUDGETS = FIRES_ALERTS | {SUBSCRIBE}  # keeps a budget's email subscriptions in step with it
ACCESS: dict[str, frozenset[str]] = {
    "ingest_telemetry": FIRES_ALERTS,  # re-evaluates the tenants' budgets after storing a batch
    "run_aggregation": READS_COSTS,
    "get_costs": READS_COSTS,
    "get_cost_summary": READS_COSTS,
    "get_top_drivers": READS_COSTS,
    "get_costs_by_model": READS_COSTS,
    "get_costs_by_region": READS_COSTS,
    "get_costs_by_service": READS_COSTS,
    "get_rate_card": READS_COSTS,
    "publish_rate_card": READS_COSTS,
    "run_daily_aggregation": READS_COSTS,
    "create_budget": CHANGES_BUDGETS,
    "update_budget": CHANGES_BUDGETS,
    "delete_budget": CHANGES_BUDGETS,
    "get_budget": READS_BUDGETS,
    "list_tenant_budgets": READS_BUDGETS,
    "get_budget_status": READS_BUDGETS,
    "list_tenant_budget_statuses": READS_BUDGETS,
    "list_budget_events": READS_BUDGETS,
    "check_budget_enforcement": FIRES_ALERTS,
    "check_tenant_enforcement": FIRES_ALERTS,
    "run_daily_budget_check": FIRES_ALERTS,
    "get_forecast": READS_COSTS,
    "get_anomalies": READS_COSTS,
    "acknowledge_anomaly": READS_COSTS,
    "import_focus": READS_COSTS,
    "import_focus_object": READS_COSTS | {IMPORT_BUCKET},
    "get_exchange_rates": READS_COSTS,
    "publish_exchange_rates": READS_COSTS,
    "run_daily_anomaly_detection": FIRES_ALERTS,  # queues high-severity anomalies in the outbox
    "drain_notification_outbox": frozenset({POSTGRES, PUBLISH, SUBSCRIBE}),  # retries subscription changes too
}
IMPORT_BUCKET_NAME = "${AWS::StackName}-focus-imports-${AWS::AccountId}"
SECRET_POLICIES = {CLICKHOUSE: "ReadClickHouseSecretPolicy", POSTGRES: "ReadDatabaseSecretPolicy"}
SECRET_PARAMETERS = {CLICKHOUSE: "ClickHouseSecretArn", POSTGRES: "DatabaseSecretArn"}
SUBSCRIPTION_MANAGERS = {folder for folder, access in ACCESS.items() if SUBSCRIBE in access}
PUBLISHERS = {folder for folder, access in ACCESS.items() if PUBLISH in access}
# Functions that detect anomalies, and so read the detectors' settings; each template parameter feeds one setting.
ANOMALY_DETECTORS = {"get_anomalies", "run_daily_anomaly_detection"}
ANOMALY_PARAMETERS = {"AnomalyMinImpactUsd": "ANOMALY_MIN_IMPACT_USD", "AnomalyDailyLimits": "ANOMALY_DAILY_LIMITS"}
# ELF e_machine of the layer's compiled extensions for each Lambda architecture.
ELF_MACHINE = {"arm64": 0xB7, "x86_64": 0x3E}


def _handler(template: dict[str, Any], properties: dict[str, Any]) -> str:
    return str(properties.get("Handler") or template["Globals"]["Function"].get("Handler"))


def _defines_lambda_handler(app_py: Path) -> bool:
    tree = ast.parse(app_py.read_text(), filename=str(app_py))
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assigned = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    return "lambda_handler" in defined | assigned


def _publish_topics(properties: dict[str, Any]) -> set[str]:
    """Logical ids of the topics a function's SNSPublishMessagePolicy entries name."""
    return {
        policy["SNSPublishMessagePolicy"]["TopicName"]["Fn::GetAtt"][0]
        for policy in properties.get("Policies", [])
        if isinstance(policy, dict) and "SNSPublishMessagePolicy" in policy
    }


# --- SAM itself ------------------------------------------------------------------------------------------


def test_sam_validate_with_lint_passes() -> None:
    result = run_sam("validate", "--lint", "--template-file", str(ROOT / "template.yaml"), timeout=300)
    assert result.returncode == 0, f"sam validate --lint failed:\n{result.stdout}\n{result.stderr}"


def test_sam_build_packs_every_function_and_the_layer(sam_build: Path, template: dict[str, Any]) -> None:
    for logical_id in functions(template):
        assert (sam_build / logical_id / "app.py").is_file(), f"{logical_id} was not built"
    layer = sam_build / "FinOpsLayer" / "python"
    # The package must sit at python/finops/, where the Lambda runtime puts it on sys.path.
    assert (layer / "finops" / "__init__.py").is_file()
    for dependency in ("aws_lambda_powertools", "clickhouse_connect", "pydantic", "pg8000", "numpy"):
        assert (layer / dependency).is_dir(), f"{dependency} missing from the layer"
    # Nothing the code does not use: no X-Ray SDK, no second botocore (the runtime's boto3 brings its own).
    for unused in ("aws_xray_sdk", "botocore", "boto3"):
        assert not (layer / unused).exists(), f"{unused} is in the layer"
    size = sum(f.stat().st_size for f in layer.rglob("*") if f.is_file())
    assert size < 250 * 1024 * 1024, f"layer is {size / 2**20:.0f} MB unzipped; Lambda's limit is 250 MB"


def test_sam_build_compiles_the_layer_for_the_template_architecture(sam_build: Path, template: dict[str, Any]) -> None:
    (architecture,) = template["Globals"]["Function"]["Architectures"]
    extension = next((sam_build / "FinOpsLayer" / "python" / "pydantic_core").glob("_pydantic_core*.so"))
    machine = int.from_bytes(extension.read_bytes()[18:20], "little")
    assert machine == ELF_MACHINE[architecture], f"{extension.name} is not built for {architecture}"


# --- routes and schedules against the handlers -----------------------------------------------------------


def test_every_function_points_at_an_existing_lambda_handler(template: dict[str, Any]) -> None:
    for logical_id, properties in functions(template).items():
        folder = function_folder(properties)
        app_py = FUNCTIONS_DIR / folder / "app.py"
        assert app_py.is_file(), f"{logical_id}: CodeUri {properties.get('CodeUri')!r} has no app.py"
        assert _handler(template, properties) == HANDLER, f"{logical_id}: handler must be {HANDLER}"
        assert _defines_lambda_handler(app_py), f"{app_py} defines no lambda_handler"


def test_every_function_has_a_route_or_a_schedule(template: dict[str, Any]) -> None:
    triggered = (
        Counter(r.logical_id for r in http_routes(template))
        + Counter(s.logical_id for s in schedules(template))
        + Counter(b.logical_id for b in bucket_events(template))
    )
    for logical_id in functions(template):
        assert triggered[logical_id] >= 1, f"{logical_id} has no HttpApi route, schedule or bucket notification"


def test_every_handler_folder_is_deployed_exactly_once(template: dict[str, Any]) -> None:
    deployed = Counter(function_folder(p) for p in functions(template).values())
    assert set(deployed) == set(function_names()), "functions/ and template.yaml disagree"
    assert all(count == 1 for count in deployed.values()), f"a folder deployed twice: {deployed}"


def test_logical_ids_name_the_trigger(template: dict[str, Any]) -> None:
    routed = {r.logical_id for r in http_routes(template)}
    scheduled = {s.logical_id for s in schedules(template)}
    notified = {b.logical_id for b in bucket_events(template)}
    for logical_id in functions(template):
        suffix = (
            "ApiFunction"
            if logical_id in routed
            else "ScheduleFunction"
            if logical_id in scheduled
            else "BucketFunction"
            if logical_id in notified
            else ""
        )
        assert suffix and logical_id.endswith(suffix), f"{logical_id} should end with its trigger ({suffix})"


def test_http_routes_equal_the_routes_each_router_declares(template: dict[str, Any]) -> None:
    declared: dict[str, set[tuple[str, str]]] = {}
    for route in http_routes(template):
        declared.setdefault(route.function, set()).add((route.method, route.path))
    for folder in function_names():
        router = getattr(load_function(folder), "router", None)
        in_code = router_routes(router) if router is not None else set()
        assert declared.get(folder, set()) == in_code, f"{folder}: template routes differ from its router's"


def test_routes_are_unique_and_on_the_http_api(template: dict[str, Any]) -> None:
    routes = http_routes(template)
    keys = Counter((r.method, r.path) for r in routes)
    assert all(n == 1 for n in keys.values()), f"route served twice: {[k for k, n in keys.items() if n > 1]}"
    for route in routes:
        assert template["Resources"][route.api]["Type"] == "AWS::Serverless::HttpApi", route
        assert route.path.startswith(ROUTE_PREFIXES), route


def test_schedule_expressions_are_valid_aws_cron(template: dict[str, Any]) -> None:
    found = schedules(template)
    assert found, "no scheduled function"
    for schedule in found:
        parse_schedule(schedule.expression)  # raises InvalidSchedule naming the field and the rule
        # Rules (Schedule) always run in UTC; Scheduler (ScheduleV2) must say so explicitly.
        if schedule.kind == "ScheduleV2":
            assert schedule.timezone == "UTC", f"{schedule.logical_id}: ScheduleExpressionTimezone must be UTC"
    # One kind of schedule throughout, so every job receives the same event shape.
    assert len({s.kind for s in found}) == 1, "mixed Schedule and ScheduleV2 events"


@pytest.mark.parametrize(("folder", "logical_id", "hour"), [(f, *job) for f, job in DAILY_JOBS.items()])
def test_daily_job_runs_every_day_at_its_utc_hour(
    template: dict[str, Any], folder: str, logical_id: str, hour: int
) -> None:
    # 01:00 aggregation, 02:00 budget check, 03:00 anomaly scan: each reads what the one before completed.
    (schedule,) = [s for s in schedules(template) if s.function == folder]
    assert schedule.enabled
    assert schedule.logical_id == logical_id
    cron = parse_schedule(schedule.expression)
    assert cron is not None and runs_daily_at(cron, hour=hour), schedule.expression
    assert schedule.timezone in (None, "UTC")


def test_every_schedule_is_a_known_job(template: dict[str, Any]) -> None:
    assert {s.function for s in schedules(template)} == set(DAILY_JOBS) | {OUTBOX_DRAINER}


def test_outbox_drainer_runs_every_five_minutes(template: dict[str, Any]) -> None:
    # So an alert waits minutes for SNS, not until the 02:00 budget check publishes the backlog.
    (schedule,) = [s for s in schedules(template) if s.function == OUTBOX_DRAINER]
    assert (schedule.logical_id, schedule.expression, schedule.enabled) == (
        "DrainNotificationOutboxScheduleFunction",
        "rate(5 minutes)",
        True,
    )


# --- globals, auth, configuration ----------------------------------------------------------------------


def test_globals_use_python312_with_active_tracing(template: dict[str, Any]) -> None:
    globals_function = template["Globals"]["Function"]
    assert globals_function["Runtime"] == "python3.12"
    assert globals_function["Tracing"] == "Active"
    assert globals_function["Architectures"] in (["arm64"], ["x86_64"])
    assert globals_function["Layers"] == [{"Ref": "FinOpsLayer"}]
    for logical_id, properties in functions(template).items():
        assert properties.get("Runtime", "python3.12") == "python3.12", logical_id
        assert properties.get("Tracing", "Active") == "Active", logical_id


def test_layer_is_built_by_sam_from_layers_finops(template: dict[str, Any]) -> None:
    layer = template["Resources"]["FinOpsLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["ContentUri"].rstrip("/") == "layers/finops"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
    assert layer["Metadata"]["BuildMethod"] == "python3.12"
    assert layer["Properties"]["CompatibleArchitectures"] == template["Globals"]["Function"]["Architectures"]


def test_jwt_authorizer_is_the_http_api_default(template: dict[str, Any]) -> None:
    auth = template["Resources"]["FinOpsHttpApi"]["Properties"]["Auth"]
    authorizer = auth["Authorizers"][auth["DefaultAuthorizer"]]
    assert authorizer["IdentitySource"] == "$request.header.Authorization"
    assert authorizer["JwtConfiguration"]["issuer"] == {"Ref": "JwtIssuer"}
    assert authorizer["JwtConfiguration"]["audience"] == [{"Ref": "JwtAudience"}]
    # No route opts out of the authorizer.
    for properties in functions(template).values():
        for event in (properties.get("Events") or {}).values():
            assert "Auth" not in (event.get("Properties") or {}), event


def test_parameter_defaults_match_the_local_server(template: dict[str, Any]) -> None:
    parameters = template["Parameters"]
    assert parameters["JwtIssuer"]["Default"] == "finops-local"
    assert parameters["JwtAudience"]["Default"] == "finops-api"
    assert parameters["TenantClaim"]["Default"] == "tenant_id"
    assert parameters["RolesClaim"]["Default"] == "roles"
    # Secrets are given by ARN, never as values.
    for name in ("ClickHouseSecretArn", "DatabaseSecretArn"):
        assert "secretsmanager" in parameters[name]["AllowedPattern"], name


def test_environment_variables_are_ones_the_code_reads(template: dict[str, Any]) -> None:
    from finops.settings import Settings

    known = {field.alias for field in Settings.model_fields.values()}
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    unknown = {name for name in variables if not name.startswith("POWERTOOLS_")} - known
    assert not unknown, f"template sets variables no code reads: {sorted(unknown)}"
    assert variables["POWERTOOLS_SERVICE_NAME"] == "finops"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "FinOps"
    assert variables["DATABASE_SECRET_ARN"] == {"Ref": "DatabaseSecretArn"}
    assert variables["DATABASE_SCHEMA"] == {"Ref": "DatabaseSchema"}
    for logical_id, properties in functions(template).items():
        assert "Environment" not in properties or "Variables" in properties["Environment"]
        own = (properties.get("Environment") or {}).get("Variables") or {}
        assert not set(own) - known, f"{logical_id} sets variables no code reads: {sorted(set(own) - known)}"


def test_database_schema_default_matches_the_settings_default(template: dict[str, Any]) -> None:
    from finops.settings import Settings

    assert template["Parameters"]["DatabaseSchema"]["Default"] == Settings.model_fields["database_schema"].default


def _secret_policies(properties: dict[str, Any]) -> set[str]:
    return {
        policy["Ref"]
        for policy in properties.get("Policies", [])
        if policy in [{"Ref": p} for p in SECRET_POLICIES.values()]
    }


def test_access_table_covers_every_function_and_matches_its_imports() -> None:
    assert set(ACCESS) == set(function_names()), "every function needs a row in ACCESS, and only they"
    for folder, access in ACCESS.items():
        modules = layer_modules(folder)
        # PostgreSQL both ways (the import graph is exact for it); ClickHouse one way (see ACCESS).
        assert (POSTGRES in access) == reaches_postgres(folder), folder
        if CLICKHOUSE in access:
            assert reaches_clickhouse(folder), f"{folder} is granted ClickHouse but never imports it"
        if PUBLISH in access:
            assert "finops.notifications.publisher" in modules, folder
        if SUBSCRIBE in access:
            assert "finops.notifications.subscriptions" in modules, folder


def test_each_secret_policy_reads_exactly_one_secret(template: dict[str, Any]) -> None:
    for database, logical_id in SECRET_POLICIES.items():
        policy = template["Resources"][logical_id]
        assert policy["Type"] == "AWS::IAM::ManagedPolicy"
        (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
        assert (statement["Effect"], statement["Action"]) == ("Allow", "secretsmanager:GetSecretValue")
        assert statement["Resource"] == {"Ref": SECRET_PARAMETERS[database]}, logical_id


def test_each_function_reads_only_the_secrets_of_the_databases_it_uses(template: dict[str, Any]) -> None:
    for logical_id, properties in functions(template).items():
        access = ACCESS[function_folder(properties)]
        expected = {policy for database, policy in SECRET_POLICIES.items() if database in access}
        assert _secret_policies(properties) == expected, logical_id


def test_no_function_has_a_grant_outside_its_row(template: dict[str, Any]) -> None:
    """Every policy a function lists is one the table accounts for: no extra managed policy, policy template or
    inline statement can widen a role unnoticed."""
    for logical_id, properties in functions(template).items():
        access = ACCESS[function_folder(properties)]
        allowed = [{"Ref": SECRET_POLICIES[d]} for d in (CLICKHOUSE, POSTGRES) if d in access]
        if PUBLISH in access:
            allowed += [
                {"SNSPublishMessagePolicy": {"TopicName": {"Fn::GetAtt": [t, "TopicName"]}}} for t in TOPICS.values()
            ]
        if SUBSCRIBE in access:
            allowed.append({"Ref": "ManageAlertSubscriptionsPolicy"})
        if IMPORT_BUCKET in access:
            allowed.append({"S3ReadPolicy": {"BucketName": {"Fn::Sub": IMPORT_BUCKET_NAME}}})
        policies = properties.get("Policies", [])
        assert sorted(map(json.dumps, policies)) == sorted(map(json.dumps, allowed)), logical_id
    assert "Policies" not in template["Globals"]["Function"], "a policy in Globals would reach every function"


# --- the FOCUS import bucket ------------------------------------------------------------------------------------


def test_focus_files_dropped_in_the_import_bucket_are_imported_and_only_read(template: dict[str, Any]) -> None:
    (event,) = bucket_events(template)
    assert (event.function, event.bucket, event.events, event.prefix) == (
        "import_focus_object",
        "FocusImportBucket",
        "s3:ObjectCreated:*",
        "focus/",
    )
    bucket = template["Resources"]["FocusImportBucket"]["Properties"]
    # The read grant names the bucket by the same name (a Ref would make the notification and the grant a cycle).
    assert bucket["BucketName"] == {"Fn::Sub": IMPORT_BUCKET_NAME}
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    readers = {
        function_folder(p)
        for p in functions(template).values()
        if any("S3ReadPolicy" in policy for policy in p.get("Policies", []) if isinstance(policy, dict))
    }
    assert readers == {"import_focus_object"}


# --- budgets: SNS topics, who publishes, who manages subscriptions, the VPC --------------------------------


def test_budget_alert_and_admin_topics_exist_encrypted_with_their_arns_in_outputs(template: dict[str, Any]) -> None:
    resources, outputs = template["Resources"], template["Outputs"]
    for logical_id in TOPICS.values():
        topic = resources[logical_id]
        assert topic["Type"] == "AWS::SNS::Topic", logical_id
        assert topic["Properties"]["DisplayName"], f"{logical_id}: emails need a sender name"
        assert topic["Properties"]["KmsMasterKeyId"], f"{logical_id} is not encrypted at rest"
        assert outputs[f"{logical_id}Arn"]["Value"] == {"Ref": logical_id}


def test_functions_that_fire_alerts_get_both_topics_and_may_publish_to_them(template: dict[str, Any]) -> None:
    for logical_id, properties in functions(template).items():
        folder = function_folder(properties)
        variables = (properties.get("Environment") or {}).get("Variables") or {}
        topics = {name: value for name, value in variables.items() if name in TOPICS}
        if folder in PUBLISHERS:
            # Both topics even for a function whose own alerts use one: publishing drains the shared outbox.
            assert topics == {name: {"Ref": topic} for name, topic in TOPICS.items()}, logical_id
            assert _publish_topics(properties) == set(TOPICS.values()), logical_id
            assert reaches_postgres(folder), f"{logical_id} publishes the outbox, which lives in PostgreSQL"
        else:
            assert not topics and not _publish_topics(properties), f"{logical_id} needs no SNS access"


def test_only_budget_changes_manage_email_subscriptions(template: dict[str, Any]) -> None:
    for logical_id, properties in functions(template).items():
        manages = {"Ref": "ManageAlertSubscriptionsPolicy"} in properties.get("Policies", [])
        assert manages == (function_folder(properties) in SUBSCRIPTION_MANAGERS), logical_id


def test_subscription_policy_is_limited_to_the_two_topics(template: dict[str, Any]) -> None:
    policy = template["Resources"]["ManageAlertSubscriptionsPolicy"]
    assert policy["Type"] == "AWS::IAM::ManagedPolicy"
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert {"sns:Subscribe", "sns:Unsubscribe"} <= set(statement["Action"])
    assert all(action.startswith("sns:") and "*" not in action for action in statement["Action"])
    topics = set(TOPICS.values())
    for resource in statement["Resource"]:
        # A topic ARN, or its subscriptions' ARNs (topic ARN + ":" + id): never a wildcard over other topics.
        assert resource in [{"Ref": t} for t in topics] or resource in [{"Fn::Sub": f"${{{t}}}:*"} for t in topics]


def test_functions_that_reach_postgresql_join_the_vpc_when_subnets_are_given(template: dict[str, Any]) -> None:
    parameters = template["Parameters"]
    for name in ("SubnetIds", "SecurityGroupIds"):
        assert (parameters[name]["Type"], parameters[name]["Default"]) == ("CommaDelimitedList", ""), name
    assert "SubnetIds" in json.dumps(template["Conditions"]["InVpc"])
    in_vpc = {
        "Fn::If": [
            "InVpc",
            {"SubnetIds": {"Ref": "SubnetIds"}, "SecurityGroupIds": {"Ref": "SecurityGroupIds"}},
            {"Ref": "AWS::NoValue"},
        ]
    }
    assert "VpcConfig" not in template["Globals"]["Function"]
    for logical_id, properties in functions(template).items():
        if reaches_postgres(function_folder(properties)):
            assert properties.get("VpcConfig") == in_vpc, f"{logical_id} reaches PostgreSQL: it needs the VPC"
        else:
            assert "VpcConfig" not in properties, f"{logical_id} reaches only ClickHouse: keep it out of the VPC"


def test_postgres_reach_follows_imports_through_the_layer() -> None:
    # Directly through finops.budgets, or through the anomaly job's wiring (a deferred import inside a function).
    assert reaches_postgres("get_budget")
    assert reaches_postgres("run_daily_anomaly_detection")
    for folder in ("get_costs", "get_forecast", "get_anomalies", "acknowledge_anomaly"):
        assert not reaches_postgres(folder), folder


# --- anomalies: the detectors' settings ----------------------------------------------------------------------


def test_anomaly_parameters_reach_exactly_the_functions_that_detect_anomalies(template: dict[str, Any]) -> None:
    from finops.settings import Settings

    parameters = template["Parameters"]
    settings = {field.alias: field for field in Settings.model_fields.values()}
    for parameter, variable in ANOMALY_PARAMETERS.items():
        # The local server does not see function-level variables: the defaults must be the settings' own.
        field = settings[variable]
        default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
        assert json.loads(str(parameters[parameter]["Default"])) == default, parameter
        assert variable not in template["Globals"]["Function"]["Environment"]["Variables"], variable
    for logical_id, properties in functions(template).items():
        variables = (properties.get("Environment") or {}).get("Variables") or {}
        given = {name: value for name, value in variables.items() if name in ANOMALY_PARAMETERS.values()}
        if function_folder(properties) in ANOMALY_DETECTORS:
            assert given == {v: {"Ref": p} for p, v in ANOMALY_PARAMETERS.items()}, logical_id
        else:
            assert not given, f"{logical_id} detects no anomalies"


def test_every_function_environment_is_valid_settings_with_the_parameter_defaults(template: dict[str, Any]) -> None:
    """What a deployed function reads at cold start, with every parameter at its default: it must validate, or
    the function fails before its first request."""
    from finops.settings import Settings

    parameters = template["Parameters"]

    def value(item: Any) -> str:
        if isinstance(item, dict) and set(item) == {"Ref"} and "Default" in parameters.get(item["Ref"], {}):
            return str(parameters[item["Ref"]]["Default"])
        if isinstance(item, dict):  # a resource's ARN or a parameter without a default: some text
            return "arn:aws:sns:us-east-1:111111111111:placeholder"
        return str(item)

    shared = template["Globals"]["Function"]["Environment"]["Variables"]
    known = {field.alias for field in Settings.model_fields.values()}
    for logical_id, properties in functions(template).items():
        own = (properties.get("Environment") or {}).get("Variables") or {}
        environment = {name: value(item) for name, item in {**shared, **own}.items() if name in known}
        try:
            Settings.model_validate(environment)
        except ValueError as error:
            pytest.fail(f"{logical_id} would fail at cold start: {error}")


def test_outputs_name_the_api_url_the_layer_and_every_function(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert "execute-api" in json.dumps(outputs["ApiUrl"]["Value"])
    assert outputs["FinOpsLayerArn"]["Value"] == {"Ref": "FinOpsLayer"}
    referenced = {json.dumps(o["Value"]) for o in outputs.values()}
    for logical_id in functions(template):
        assert json.dumps({"Ref": logical_id}) in referenced, f"no output for {logical_id}"


def test_samconfig_deploys_default_dev_and_prod_with_every_required_parameter(template: dict[str, Any]) -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    required = {name for name, spec in template["Parameters"].items() if "Default" not in spec}
    for env in ("default", "dev", "prod"):
        deploy = config[env]["deploy"]["parameters"]
        assert set(deploy["capabilities"].split()) == {"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"}, env
        assert deploy["resolve_s3"] is True, env
        given = {item.split("=", 1)[0] for item in deploy["parameter_overrides"]}
        assert required <= given, f"[{env}] misses {sorted(required - given)}"
        assert given <= set(template["Parameters"]), (
            f"[{env}] sets unknown parameters {sorted(given - set(template['Parameters']))}"
        )
        assert config[env]["global"]["parameters"]["stack_name"], env
        # The template's Fn::ForEach: SAM CLI must expand it for build and package, CloudFormation (AUTO_EXPAND) on deploy.
        assert config[env]["global"]["parameters"]["language_extensions"] is True, env
        assert ("SubnetIds" in given) == ("SecurityGroupIds" in given), f"[{env}] VPC needs subnets and groups"
    assert config["prod"]["deploy"]["parameters"]["confirm_changeset"] is True
