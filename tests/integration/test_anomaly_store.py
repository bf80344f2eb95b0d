"""The daily job's record of anomalies on real ClickHouse: a re-run rewrites what it no longer finds as inactive,
figures kept, and only for the tenants, days and method it ran on."""

from datetime import UTC, date
from decimal import Decimal

from finops.anomalies.detection import Detection
from finops.anomalies.ids import anomaly_id
from finops.anomalies.job import record
from finops.anomalies.root_cause import Contributor
from finops.anomalies.scan import Found

DAY = date(2026, 3, 10)


def found(tenant: str, category: str = "AI") -> Found:
    detection = Detection(
        index=0,
        day=DAY,
        expected=100.0,
        actual=180.5,
        impact=80.5,
        deviation_percent=80.5,
        severity="high",
        direction="up",
        method="seasonal",
        score=6.25,
    )
    cause = Contributor("model", "o3", 80.5, 0.0, 80.5, 1.0, True)
    return Found(tenant, category, detection, [cause])


def stored(client, tenant: str) -> list[dict]:
    return list(
        client.query(
            "SELECT toString(id) AS id, anomaly_date, service_category, active, expected_cost, actual_cost, impact, "
            "deviation_percent, score, root_causes, detected_at FROM cost_anomalies FINAL "
            "WHERE tenant_id = {tenant:String}",
            parameters={"tenant": tenant},
        ).named_results()
    )


def test_a_rerun_that_no_longer_finds_an_anomaly_marks_it_inactive_with_its_figures_kept(clickhouse):
    first = record(clickhouse, [found("acme")], tenants=["acme"], start=DAY, end=DAY, method="auto")
    (before,) = stored(clickhouse, "acme")
    assert before["active"] is True
    assert before["id"] == anomaly_id("acme", DAY, "AI", "auto")

    second = record(clickhouse, [], tenants=["acme"], start=DAY, end=DAY, method="auto")

    (after,) = stored(clickhouse, "acme")
    assert second > first
    assert after["active"] is False
    assert after["detected_at"].replace(tzinfo=UTC) == second  # the client drops the column's UTC zone
    same = ("id", "anomaly_date", "service_category", "expected_cost", "actual_cost", "impact", "score", "root_causes")
    assert {k: after[k] for k in same} == {k: before[k] for k in same}
    assert (after["expected_cost"], after["impact"], after["deviation_percent"]) == (
        Decimal("100"),
        Decimal("80.5"),
        80.5,
    )


def test_a_rerun_finding_the_anomaly_again_keeps_it_active(clickhouse):
    record(clickhouse, [found("acme")], tenants=["acme"], start=DAY, end=DAY, method="auto")
    record(clickhouse, [found("acme")], tenants=["acme"], start=DAY, end=DAY, method="auto")
    assert [row["active"] for row in stored(clickhouse, "acme")] == [True]


def test_a_rerun_leaves_other_tenants_days_and_methods_alone(clickhouse):
    record(clickhouse, [found("acme"), found("globex")], tenants=["acme", "globex"], start=DAY, end=DAY, method="auto")
    record(clickhouse, [found("acme")], tenants=["acme"], start=DAY, end=DAY, method="statistical")

    record(clickhouse, [], tenants=["acme"], start=date(2026, 3, 11), end=date(2026, 3, 11), method="auto")
    record(clickhouse, [], tenants=["acme"], start=DAY, end=DAY, method="statistical")

    assert sorted(row["active"] for row in stored(clickhouse, "acme")) == [False, True]  # statistical off, auto on
    assert [row["active"] for row in stored(clickhouse, "globex")] == [True]
