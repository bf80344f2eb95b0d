"""The budget policy, as pure functions: what state spend puts a budget in, which events are due, and what
an enforcement check answers. No I/O here, so every rule is unit- and property-tested directly."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from finops.budgets.models import ENFORCEMENT_ACTIONS, OPERATION_CATEGORY, EnforcementDecision
from finops.models.common import WIDE, quantize

EventType = Literal["threshold_notify", "threshold_enforce", "enforcement_lifted", "period_rollover"]
HUNDRED = Decimal(100)
PERCENT_QUANTUM = Decimal("0.0001")  # as stored


@dataclass(frozen=True)
class PolicyView:
    """What the policy needs to know about a budget."""

    id: str
    amount: Decimal
    notify_threshold: Decimal
    enforce_threshold: Decimal | None
    actions: tuple[str, ...]
    rate_limit_factor: Decimal | None
    categories: tuple[str, ...]


@dataclass(frozen=True)
class DueEvent:
    event_type: EventType
    severity: Literal["info", "warning", "critical"]
    threshold_percent: Decimal | None


def percent_used(spent: Decimal, amount: Decimal) -> Decimal:
    # Exact for any spend (the wide context): a large spend over a small amount is a large percentage, not an error.
    return quantize(WIDE.multiply(WIDE.divide(spent, amount), HUNDRED), PERCENT_QUANTUM)


def state_for(budget: PolicyView, percent: Decimal) -> Literal["ok", "notified", "enforced"]:
    if budget.enforce_threshold is not None and percent >= budget.enforce_threshold:
        return "enforced"
    if percent >= budget.notify_threshold:
        return "notified"
    return "ok"


def due_events(budget: PolicyView, previous_state: str, percent: Decimal, *, new_period: bool) -> list[DueEvent]:
    """Events the spend makes due. Once-per-period ones are de-duplicated by the store, not here."""
    events: list[DueEvent] = []
    if new_period:
        events.append(DueEvent("period_rollover", "info", None))
    state = state_for(budget, percent)
    if previous_state == "enforced" and (new_period or state != "enforced"):
        events.append(DueEvent("enforcement_lifted", "info", budget.enforce_threshold))
    if percent >= budget.notify_threshold:
        events.append(DueEvent("threshold_notify", "warning", budget.notify_threshold))
    if state == "enforced":
        events.append(DueEvent("threshold_enforce", "critical", budget.enforce_threshold))
    return events


def active_actions(budget: PolicyView, state: str) -> list[str]:
    """Actions in effect: notification actions once notified, enforcement actions once enforced."""
    if state == "ok":
        return []
    actions = [a for a in budget.actions if a not in ENFORCEMENT_ACTIONS]
    if state == "enforced":
        actions += [a for a in budget.actions if a in ENFORCEMENT_ACTIONS]
    return actions


def covers(budget: PolicyView, operation_type: str) -> bool:
    return not budget.categories or OPERATION_CATEGORY[operation_type].value in budget.categories


def decide(budget: PolicyView, operation_type: str, projected_percent: Decimal) -> EnforcementDecision:
    """The answer of one budget for an operation whose cost would bring it to `projected_percent`."""
    category = OPERATION_CATEGORY[operation_type].value
    blocks = (category == "AI" and "block_ai" in budget.actions) or (
        category == "EXPORT" and "block_export" in budget.actions
    )
    action: Literal["allow", "rate_limit", "block"] = "allow"
    factor = None
    if budget.enforce_threshold is None or projected_percent < budget.enforce_threshold:
        reason = "within budget"
    elif blocks:
        action = "block"
        reason = f"budget enforce threshold of {budget.enforce_threshold}% reached; {operation_type} is blocked"
    elif "rate_limit" in budget.actions and budget.rate_limit_factor is not None:
        action, factor = "rate_limit", float(budget.rate_limit_factor)
        reason = f"budget enforce threshold of {budget.enforce_threshold}% reached; requests are rate limited"
    else:
        reason = f"enforce threshold reached, but the policy does not restrict {operation_type}"
    return EnforcementDecision(
        allowed=action != "block",
        action=action,
        rate_limit_factor=factor,
        reason=reason,
        budget_id=budget.id,
        percent_used=float(projected_percent),
    )


_SEVERITY = {"block": 2, "rate_limit": 1, "allow": 0}


def strictest(decisions: Sequence[EnforcementDecision]) -> EnforcementDecision:
    """Block beats rate limit beats allow; among rate limits the smallest factor; among equals the fullest budget."""
    if not decisions:
        return EnforcementDecision(allowed=True, action="allow", reason="no budget covers this operation")
    return max(
        decisions,
        key=lambda d: (
            _SEVERITY[d.action],
            -(d.rate_limit_factor if d.rate_limit_factor is not None else 1.0),
            d.percent_used or 0.0,
        ),
    )
