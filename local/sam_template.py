"""Read `template.yaml`: the single source of the local server's routes, schedules and JWT settings.

Only what the local server needs is read: each `AWS::Serverless::Function`'s code folder and its `HttpApi`
and `Schedule`/`ScheduleV2` events, the HTTP API's JWT authorizer (issuer and audience, with `!Ref`s to
parameters resolved to their defaults), and the plain-string environment variables of `Globals`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.cfn_yaml import load_cfn_yaml
from local.lambda_runtime import ROOT
from local.scheduler import ACCOUNT_ID, REGION, Schedule

TEMPLATE_PATH = ROOT / "template.yaml"
LOCAL_ISSUER = "https://auth.finops.local/"  # used only when the template declares no JWT authorizer
LOCAL_AUDIENCE = "finops-api"


@dataclass(frozen=True)
class Route:
    method: str  # upper case; ANY matches every method
    path: str  # as in the template, e.g. /v1/budgets/{budgetId}
    function: str  # folder under functions/
    logical_id: str
    auth_required: bool
    pattern: re.Pattern[str] = field(compare=False, repr=False)

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(path)
        return found.groupdict() if found else None


@dataclass(frozen=True)
class JwtConfig:
    issuer: str
    audience: tuple[str, ...]


@dataclass(frozen=True)
class SamTemplate:
    functions: dict[str, str]  # logical id -> folder under functions/
    routes: list[Route]
    schedules: list[Schedule]
    jwt: JwtConfig
    environment: dict[str, str]  # Globals.Function.Environment.Variables known locally

    def function_folder(self, name: str) -> str:
        """Accept a function's folder name or its logical id."""
        if name in self.functions.values():
            return name
        if name in self.functions:
            return self.functions[name]
        raise KeyError(f"no function {name!r} in template.yaml; known: {', '.join(sorted(self.functions.values()))}")


def load_template(path: Path = TEMPLATE_PATH) -> SamTemplate:
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the local server takes its routes from the SAM template")
    document = load_cfn_yaml(path)
    parameters = {name: spec.get("Default") for name, spec in (document.get("Parameters") or {}).items()}
    # `Fn::ForEach::<name>` entries (AWS::LanguageExtensions) are lists, not resources: the template's make log
    # groups and alarms, nothing the local server serves.
    resources: dict[str, dict[str, Any]] = {
        name: resource for name, resource in (document.get("Resources") or {}).items() if isinstance(resource, dict)
    }
    globals_function = (document.get("Globals") or {}).get("Function") or {}

    functions: dict[str, str] = {}
    routes: list[Route] = []
    schedules: list[Schedule] = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = resource.get("Properties") or {}
        code_uri = properties.get("CodeUri") or globals_function.get("CodeUri")
        if not isinstance(code_uri, str):
            continue
        folder = Path(code_uri.rstrip("/")).name
        functions[logical_id] = folder
        for event_name, event in (properties.get("Events") or {}).items():
            kind, props = event.get("Type"), event.get("Properties") or {}
            if kind == "HttpApi" and props.get("Path") and props.get("Method"):
                api = resources.get(_ref(props.get("ApiId")) or "", {}).get("Properties") or {}
                routes.append(_route(logical_id, folder, props, api, document))
            elif kind in ("Schedule", "ScheduleV2") and _enabled(props):
                expression = props.get("ScheduleExpression") or props.get("Schedule")
                schedules.append(
                    Schedule(
                        function=folder,
                        name=str(_resolve(props.get("Name"), parameters) or f"{logical_id}-{event_name}"),
                        expression=str(_resolve(expression, parameters)),
                        timezone=str(props.get("ScheduleExpressionTimezone") or "UTC"),
                        kind=kind,
                        input=props.get("Input"),
                    )
                )
    # Most specific first: a literal segment wins over a `{parameter}` in the same place, as in API Gateway.
    routes.sort(key=lambda r: (r.path.count("{"), -len(r.path), r.method == "ANY"))
    return SamTemplate(
        functions=functions,
        routes=routes,
        schedules=schedules,
        jwt=_jwt_config(resources, document, parameters),
        environment=_environment(globals_function, parameters),
    )


def _environment(globals_function: dict[str, Any], parameters: dict[str, Any]) -> dict[str, str]:
    """Globals' environment variables whose value is known locally (a literal, or a parameter with a default)."""
    variables = (globals_function.get("Environment") or {}).get("Variables") or {}
    resolved = {name: _resolve(value, parameters) for name, value in variables.items()}
    return {name: str(value) for name, value in resolved.items() if isinstance(value, str | int | float | bool)}


def _route(logical_id: str, folder: str, props: dict[str, Any], api: dict[str, Any], document: dict) -> Route:
    path = str(props["Path"])
    default_auth = ((api.get("Auth") or (document.get("Globals") or {}).get("HttpApi", {}).get("Auth")) or {}).get(
        "DefaultAuthorizer"
    )
    authorizer = (props.get("Auth") or {}).get("Authorizer", default_auth)
    return Route(
        method=str(props["Method"]).upper(),
        path=path,
        function=folder,
        logical_id=logical_id,
        auth_required=bool(authorizer) and authorizer != "NONE",
        pattern=_path_pattern(path),
    )


def _path_pattern(path: str) -> re.Pattern[str]:
    """`/budgets/{budgetId}` matches one segment per parameter; a greedy `{proxy+}` matches the rest."""
    pieces = []
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{"):
            name = part.strip("{}+")
            pieces.append(f"(?P<{name}>.+)" if part.endswith("+}") else f"(?P<{name}>[^/]+)")
        elif part:
            pieces.append(re.escape(part))
    return re.compile("".join(pieces))


def _enabled(props: dict[str, Any]) -> bool:
    return props.get("Enabled", True) is not False and str(props.get("State", "ENABLED")).upper() != "DISABLED"


def _jwt_config(resources: dict[str, Any], document: dict, parameters: dict[str, Any]) -> JwtConfig:
    """The JWT authorizer of the (first) HTTP API, else the JwtIssuer/JwtAudience parameters' defaults."""
    auth_blocks = [
        (r.get("Properties") or {}).get("Auth") or {}
        for r in resources.values()
        if r.get("Type") == "AWS::Serverless::HttpApi"
    ] + [((document.get("Globals") or {}).get("HttpApi") or {}).get("Auth") or {}]
    for auth in auth_blocks:
        for authorizer in (auth.get("Authorizers") or {}).values():
            jwt = authorizer.get("JwtConfiguration")
            if jwt:
                issuer = _resolve(jwt.get("issuer"), parameters)
                audience = _resolve(jwt.get("audience"), parameters)
                audiences = audience if isinstance(audience, list) else [audience]
                return JwtConfig(str(issuer), tuple(str(a) for a in audiences if a))
    issuer = parameters.get("JwtIssuer") or LOCAL_ISSUER
    audience = parameters.get("JwtAudience") or LOCAL_AUDIENCE
    return JwtConfig(str(issuer), tuple(str(audience).split(",")))


def _ref(value: Any) -> str | None:
    return value.get("Ref") if isinstance(value, dict) else None


def _resolve(value: Any, parameters: dict[str, Any]) -> Any:
    """Resolve `Ref` to a parameter's default and `Fn::Sub` of parameters and pseudo parameters."""
    pseudo = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT_ID, "AWS::Partition": "aws"}
    if isinstance(value, list):
        return [_resolve(v, parameters) for v in value]
    if not isinstance(value, dict):
        return value
    if "Ref" in value:
        name = value["Ref"]
        return parameters.get(name, pseudo.get(name))
    if "Fn::Sub" in value:
        text, local_vars = (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]
        known = {**pseudo, **{k: v for k, v in parameters.items() if v is not None}, **local_vars}
        return re.sub(r"\$\{([^}!]+)\}", lambda m: str(known.get(m.group(1), m.group(0))), text)
    if "Fn::Split" in value:
        separator, text = value["Fn::Split"]
        return str(_resolve(text, parameters)).split(separator)
    return value
