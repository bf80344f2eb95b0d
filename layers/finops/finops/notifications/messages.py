"""Notification messages: what a budget event says to people (email) and to machines (JSON).

Every message follows the same conventions, whatever the kind of event (budget thresholds now, anomalies
later), so subscribers can rely on them:
- `subject`: one readable line of at most 100 characters (SNS's limit), names shortened with "…" to fit,
  e.g. "[FinOps] Budget 'Monthly AI' at 82% of $5,000 (acme)".
- `body_text`: plain text for email: what happened, the figures, what the policy does now, the event id.
- `body_json`: for machines. camelCase keys; `schemaVersion`, `eventId`, `eventType`, `severity`, `tenantId`
  always present, and `subject` too (raw SQS/HTTP delivery carries no Subject). Money and percentages are
  exact decimal *strings* in USD ("4100.00", "82.5"), never floats, so a consumer never sees 0.1 + 0.2;
  dates are ISO strings; `details` is converted the same way.
- SNS message attributes (`message_attributes`): tenantId, budgetId, eventType, severity, eventId (String),
  so subscriptions can filter on them without parsing the body.

A new kind of message is a `compose_*` function that builds its subject with `fit_subject`, its text lines
and its JSON, and hands them to `build_message` (an anomaly's is `finops.anomalies.alerts`).

This module only composes: `outbox.enqueue` writes a message to the outbox inside the caller's transaction (the
one that records the event), so a notification exists if and only if its event does; `publisher.publish_pending`
sends it afterwards.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal, get_args

from finops.models.common import CURRENCY, quantize

Topic = Literal["alerts", "admin"]
Severity = Literal["info", "warning", "critical"]
BudgetEventType = Literal["threshold_notify", "threshold_enforce", "enforcement_lifted", "forecast_exceeds"]

TOPICS: tuple[str, ...] = get_args(Topic)
SEVERITIES: tuple[str, ...] = get_args(Severity)
# The severity each budget event type is recorded and sent with.
SEVERITY_BY_EVENT_TYPE: dict[str, Severity] = {
    "threshold_notify": "warning",
    "threshold_enforce": "critical",
    "enforcement_lifted": "info",
    "forecast_exceeds": "warning",
}
SCHEMA_VERSION = 1
MAX_SUBJECT_LENGTH = 100  # SNS rejects longer subjects; the outbox table checks it too
SUBJECT_PREFIX = "[FinOps]"

# What each policy action means for the people reading the alert.
ACTION_EFFECTS: dict[str, str] = {
    "notify": "the budget's subscribers are notified",
    "alert_admins": "the tenant's admins and the admin channel are alerted",
    "rate_limit": "operations are rate-limited",
    "block_ai": "AI generation is blocked",
    "block_export": "exports are blocked",
}
NOTIFY_ACTIONS = ("notify", "alert_admins")
ENFORCE_ACTIONS = ("rate_limit", "block_ai", "block_export")

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
_PLACEHOLDER = re.compile(r"\{(name|tenant)\}")
_MIN_TENANT_IN_SUBJECT = 24


@dataclass(frozen=True)
class OutboxMessage:
    """One notification for one SNS topic, as stored in the outbox and published."""

    topic: Topic
    subject: str
    body_text: str
    body_json: dict[str, Any] = field(hash=False)

    @property
    def attributes(self) -> dict[str, str]:
        """The SNS message attributes subscribers filter on."""
        return message_attributes(
            event_id=self.body_json["eventId"],
            tenant_id=self.body_json["tenantId"],
            budget_id=self.body_json.get("budgetId"),
            event_type=self.body_json["eventType"],
            severity=self.body_json["severity"],
        )


def compose_budget_alert(
    *,
    event_id: str,
    event_type: str,
    severity: str,
    tenant_id: str,
    budget_id: str,
    budget_name: str,
    period_start: date,
    period_end: date,
    spent: Decimal,
    amount: Decimal,
    percent_used: Decimal,
    threshold_percent: Decimal | None,
    actions: list[str],
    topic: Topic,
    details: dict[str, Any] | None = None,
    currency: str = CURRENCY,
) -> OutboxMessage:
    """The alert for one budget event (`threshold_notify`, `threshold_enforce`, `enforcement_lifted`,
    `forecast_exceeds`). `period_end` is the period's last day (inclusive); amounts are in the budget's `currency`;
    `actions` is the budget's policy. `details` by event type: forecast_exceeds {expectedSpend, probability (0 to 1), breachDate};
    threshold_enforce {rateLimitFactor}; enforcement_lifted {reason}; anything else is passed on as is."""
    if event_type not in SEVERITY_BY_EVENT_TYPE:
        raise ValueError(f"unknown budget event type: {event_type!r}")
    details = dict(details or {})
    money = functools.partial(_money, currency=currency)
    name, tenant = _clean(budget_name), _clean(tenant_id)
    amount_short = money(amount, compact=True)
    threshold = f"{_percent(threshold_percent)}%" if threshold_percent is not None else None
    used_whole = f"{_percent(percent_used, places=0)}%"

    if event_type == "threshold_notify":
        subject = fit_subject("Budget '{name}' at " + f"{used_whole} of {amount_short}" + " ({tenant})", name, tenant)
        headline = f"Budget '{name}' of tenant {tenant} has used {_percent(percent_used)}% of its {money(amount)}"
        headline += f", crossing its {threshold} notify threshold." if threshold else "."
    elif event_type == "threshold_enforce":
        subject = fit_subject(
            "Budget '{name}' enforced at " + f"{used_whole} of {amount_short}" + " ({tenant})", name, tenant
        )
        headline = f"Budget '{name}' of tenant {tenant} has used {_percent(percent_used)}% of its {money(amount)}"
        headline += (
            f", reaching its {threshold} enforce threshold." if threshold else ", reaching its enforce threshold."
        )
    elif event_type == "enforcement_lifted":
        subject = fit_subject("Budget '{name}' enforcement lifted ({tenant})", name, tenant)
        reason = details.get("reason") or "spend is back under the enforce threshold"
        headline = f"Enforcement of budget '{name}' of tenant {tenant} has been lifted: {_clean(str(reason))}."
    else:  # forecast_exceeds
        subject = fit_subject("Budget '{name}' forecast to exceed " + amount_short + " ({tenant})", name, tenant)
        headline = f"Budget '{name}' of tenant {tenant} is forecast to exceed its {money(amount)} this period."

    figures = [
        f"Spent:       {money(spent)} of {money(amount)} ({_percent(percent_used)}%)",
        _remaining_line(spent, amount, currency),
        f"Period:      {period_start.isoformat()} to {period_end.isoformat()} (UTC)",
    ]
    if event_type == "forecast_exceeds":
        figures += _forecast_lines(details, currency)
    if threshold:
        figures.append(f"Threshold:   {threshold}")
    figures.append(f"Severity:    {severity}")

    lines = [headline, "", *figures, "", "What the policy does now:", *_policy_lines(event_type, actions, details)]
    lines += ["", f"Budget id:   {budget_id}"]

    body_json: dict[str, Any] = {
        "eventId": event_id,
        "eventType": event_type,
        "severity": severity,
        "tenantId": tenant_id,
        "budgetId": budget_id,
        "budgetName": budget_name,
        "periodStart": period_start,
        "periodEnd": period_end,
        "currency": currency,
        "spent": spent,
        "amount": amount,
        "percentUsed": percent_used,
        "thresholdPercent": threshold_percent,
        "actions": list(actions),
        "details": details,
    }
    return build_message(topic=topic, subject=subject, text_lines=lines, body_json=body_json)


def build_message(
    *, topic: Topic, subject: str, text_lines: Sequence[str], body_json: Mapping[str, Any]
) -> OutboxMessage:
    """Apply the shared conventions: validated subject, the event id closing the text, JSON-safe body."""
    if topic not in TOPICS:
        raise ValueError(f"unknown topic: {topic!r}")
    missing = [key for key in ("eventId", "eventType", "severity", "tenantId") if not body_json.get(key)]
    if missing:
        raise ValueError(f"message JSON lacks {', '.join(missing)}")
    if body_json["severity"] not in SEVERITIES:
        raise ValueError(f"unknown severity: {body_json['severity']!r}")
    subject = _clean(subject)
    if not 1 <= len(subject) <= MAX_SUBJECT_LENGTH:
        raise ValueError(f"subject must be 1 to {MAX_SUBJECT_LENGTH} characters: {subject!r}")
    event_id = str(body_json["eventId"])
    text = "\n".join(text_lines).rstrip()
    text += f"\nEvent id:    {event_id} (quote it when asking about this alert; systems deduplicate on it)\n"
    payload = {"schemaVersion": SCHEMA_VERSION, **to_json_safe(dict(body_json)), "subject": subject}
    return OutboxMessage(topic=topic, subject=subject, body_text=text, body_json=payload)


def fit_subject(pattern: str, name: str, tenant: str) -> str:
    """`[FinOps] ` + `pattern` with `{name}` and `{tenant}` filled in, shortened with "…" to fit in 100
    characters. The name wins over the tenant: a long tenant id keeps its first 24 characters when the name
    needs the room, so a 200-character budget name still gives a readable subject."""
    name, tenant = _clean(name), _clean(tenant)
    room = MAX_SUBJECT_LENGTH - len(SUBJECT_PREFIX) - 1 - len(_PLACEHOLDER.sub("", pattern))
    if len(name) + len(tenant) > room:
        tenant_keep = min(len(tenant), max(room - len(name), _MIN_TENANT_IN_SUBJECT))
        name = _shorten(name, max(room - tenant_keep, 8))
        tenant = _shorten(tenant, tenant_keep)
    values = {"name": name, "tenant": tenant}
    subject = f"{SUBJECT_PREFIX} " + _PLACEHOLDER.sub(lambda m: values[m.group(1)], pattern)
    return _shorten(subject, MAX_SUBJECT_LENGTH)  # only when the pattern itself is too long


def message_attributes(
    *, event_id: str, tenant_id: str, budget_id: str | None, event_type: str, severity: str
) -> dict[str, str]:
    """SNS message attributes (all String); budgetId is left out for events that concern no budget."""
    attributes = {"tenantId": tenant_id, "eventType": event_type, "severity": severity, "eventId": event_id}
    if budget_id:
        attributes["budgetId"] = budget_id
    return {key: str(value) for key, value in attributes.items()}


def sns_message(body_text: str, body_json: Mapping[str, Any]) -> str:
    """The `Message` for `MessageStructure='json'`: readable text for email, the JSON for everything else."""
    machine = json.dumps(body_json, separators=(",", ":"), ensure_ascii=False)
    return json.dumps({"default": machine, "email": body_text, "sqs": machine, "lambda": machine})


def to_json_safe(value: Any) -> Any:
    """Decimals as exact strings, dates as ISO strings, UUIDs as strings, recursively."""
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): to_json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json_safe(v) for v in value]
    return value


def _policy_lines(event_type: str, actions: Sequence[str], details: Mapping[str, Any]) -> list[str]:
    notify = [a for a in actions if a in NOTIFY_ACTIONS]
    enforce = [a for a in actions if a in ENFORCE_ACTIONS]
    unknown = [a for a in actions if a not in ACTION_EFFECTS]
    factor = details.get("rateLimitFactor")

    def effect(action: str) -> str:
        text = ACTION_EFFECTS.get(action, action)
        if action == "rate_limit" and factor is not None:
            text += f" to {format(Decimal(str(factor)).normalize(), 'f')} of their usual rate"
        return f"{text} ({action})"

    upcoming = "; ".join(effect(a) for a in enforce)
    if event_type == "threshold_notify":
        lines = [f"- Now: {effect(a)}." for a in notify] or ["- Nothing beyond this message."]
        lines.append(
            f"- At the enforce threshold: {upcoming}."
            if enforce
            else "- No enforcement is configured: nothing is limited."
        )
        return lines + [f"- Also configured: {a}." for a in unknown]
    if event_type == "threshold_enforce":
        lines = [f"- Now: {effect(a)}." for a in enforce] or [
            "- No enforcing action is configured: nothing is limited."
        ]
        if enforce:
            lines.append("- Other operations stay allowed.")
        lines.append("- Enforcement lifts when the period rolls over or the budget changes so spend is back under it.")
        return lines + [f"- Also configured: {a}." for a in unknown]
    if event_type == "enforcement_lifted":
        return ["- All operations are allowed again."] + (
            [f"- If spend reaches the enforce threshold again: {upcoming}."] if enforce else []
        )
    return ["- Nothing is limited yet: this is an early warning."] + (
        [f"- At the enforce threshold: {upcoming}."] if enforce else []
    )


def _forecast_lines(details: Mapping[str, Any], currency: str) -> list[str]:
    lines = []
    if details.get("expectedSpend") is not None:
        expected = _money(Decimal(str(details["expectedSpend"])), currency=currency)
        lines.append(f"Forecast:    {expected} by the end of the period")
    if details.get("probability") is not None:
        probability = Decimal(str(details["probability"]))
        probability = probability * 100 if probability <= 1 else probability  # a fraction, or already a percent
        lines.append(f"Probability: {_percent(probability, places=0)}% that spend exceeds the amount")
    if details.get("breachDate") is not None:
        breach = details["breachDate"]
        lines.append(f"Breach date: {breach.isoformat() if isinstance(breach, date) else _clean(str(breach))}")
    return lines


def _remaining_line(spent: Decimal, amount: Decimal, currency: str) -> str:
    left = amount - spent
    money = functools.partial(_money, currency=currency)
    return f"Remaining:   {money(left)}" if left >= 0 else f"Over by:     {money(-left)}"


def _money(value: Decimal, *, currency: str = CURRENCY, compact: bool = False) -> str:
    """$5,000.00 ($5,000 when compact and whole), 5,000.00 EUR in another currency; cents rounded down so a display
    never overstates headroom."""
    cents = quantize(value, Decimal("0.01"), ROUND_DOWN)
    text = f"{abs(cents):,.2f}"
    if compact and text.endswith(".00"):
        text = text[:-3]
    if currency != CURRENCY:
        return ("-" if cents < 0 else "") + f"{text} {currency}"
    return ("-$" if cents < 0 else "$") + text


def _percent(value: Decimal, *, places: int = 1) -> str:
    """82.5, 80 (no trailing zeros); rounded down so 99.96% never reads as 100%."""
    quantum = Decimal(1).scaleb(-places)
    text = format(quantize(Decimal(value), quantum, ROUND_DOWN), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _decimal_text(value: Decimal) -> str:
    """Exact, no exponent, at least two decimals: Decimal('4100.000000') -> '4100.00', '12.3456' stays."""
    text = format(value.normalize(), "f")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def _shorten(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


def _clean(text: str) -> str:
    """One line: SNS subjects may not carry line breaks or control characters."""
    return _CONTROL_CHARACTERS.sub(" ", text).strip()
