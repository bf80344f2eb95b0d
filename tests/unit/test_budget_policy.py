from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from finops.budgets.policy import PolicyView, active_actions, decide, due_events, percent_used, state_for, strictest


def view(**overrides):
    base = {
        "id": "b1",
        "amount": Decimal(100),
        "notify_threshold": Decimal(80),
        "enforce_threshold": Decimal(100),
        "actions": ("notify", "block_ai"),
        "rate_limit_factor": None,
        "categories": ("AI",),
    }
    base.update(overrides)
    return PolicyView(**base)


def test_states_by_threshold():
    budget = view()
    assert state_for(budget, Decimal("79.99")) == "ok"
    assert state_for(budget, Decimal(80)) == "notified"
    assert state_for(budget, Decimal(100)) == "enforced"
    assert state_for(view(enforce_threshold=None), Decimal(500)) == "notified"


def test_due_events_name_the_threshold_and_severity():
    due = due_events(view(), "ok", Decimal(105), new_period=False)
    assert [(d.event_type, d.severity, d.threshold_percent) for d in due] == [
        ("threshold_notify", "warning", Decimal(80)),
        ("threshold_enforce", "critical", Decimal(100)),
    ]


def test_enforcement_lifts_when_spend_falls_back_or_the_period_rolls_over():
    assert [d.event_type for d in due_events(view(), "enforced", Decimal(50), new_period=False)] == [
        "enforcement_lifted"
    ]
    assert [d.event_type for d in due_events(view(), "enforced", Decimal(0), new_period=True)] == [
        "period_rollover",
        "enforcement_lifted",
    ]
    assert due_events(view(), "notified", Decimal(50), new_period=False) == []


@pytest.mark.parametrize(
    ("actions", "operation", "expected"),
    [
        (("block_ai",), "ai_generation", "block"),
        (("block_ai",), "export", "allow"),
        (("block_export",), "export", "block"),
        (("block_export",), "ai_embedding", "allow"),
        (("rate_limit",), "ai_generation", "rate_limit"),
        (("block_ai", "rate_limit"), "ai_generation", "block"),
        (("notify",), "ai_generation", "allow"),
    ],
)
def test_decision_past_the_enforce_threshold(actions, operation, expected):
    budget = view(actions=actions, rate_limit_factor=Decimal("0.5"), categories=())
    decision = decide(budget, operation, Decimal(101))
    assert decision.action == expected
    assert decision.allowed is (expected != "block")
    assert decide(budget, operation, Decimal(99)).action == "allow"


def test_active_actions_follow_the_state():
    budget = view(actions=("notify", "alert_admins", "rate_limit"), rate_limit_factor=Decimal("0.5"))
    assert active_actions(budget, "ok") == []
    assert active_actions(budget, "notified") == ["notify", "alert_admins"]
    assert active_actions(budget, "enforced") == ["notify", "alert_admins", "rate_limit"]


def test_strictest_prefers_block_then_the_smallest_rate_limit():
    soft = decide(
        view(id="soft", actions=("rate_limit",), rate_limit_factor=Decimal("0.8")), "ai_generation", Decimal(120)
    )
    hard = decide(
        view(id="hard", actions=("rate_limit",), rate_limit_factor=Decimal("0.2")), "ai_generation", Decimal(101)
    )
    block = decide(view(id="block"), "ai_generation", Decimal(100))
    ok = decide(view(id="ok"), "ai_generation", Decimal(10))
    assert strictest([soft, hard, ok]).budget_id == "hard"
    assert strictest([soft, block, hard]).budget_id == "block"
    assert strictest([]).allowed


@given(
    spent=st.decimals(min_value=0, max_value=10**9, places=6, allow_nan=False, allow_infinity=False),
    amount=st.decimals(min_value=Decimal("0.000001"), max_value=10**9, places=6, allow_nan=False, allow_infinity=False),
)
def test_more_spend_never_relaxes_the_decision(spent, amount):
    budget = view(amount=amount, actions=("rate_limit", "block_ai"), rate_limit_factor=Decimal("0.5"))
    order = {"allow": 0, "rate_limit": 1, "block": 2}
    lower = decide(budget, "ai_generation", percent_used(spent, amount)).action
    higher = decide(budget, "ai_generation", percent_used(spent * 2 + amount, amount)).action
    assert order[higher] >= order[lower]
