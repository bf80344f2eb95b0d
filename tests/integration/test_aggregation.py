"""Aggregation into cost facts: idempotent, late telemetry, the daily job, re-pricing on request."""

from datetime import timedelta
from decimal import Decimal

import pytest

from finops.settings import reload_settings
from tests.conftest import claims
from tests.factories import AGGREGATE, COSTS, TELEMETRY, days_ago, event, run_scheduled

SYSTEM = claims(None, "system")


def ingest(api, events):
    status, body, _ = api("ingest_telemetry", "POST", TELEMETRY, auth=SYSTEM, body={"events": events})
    assert status == 200, body
    return body


def aggregate(api, body, auth=SYSTEM):
    return api("run_aggregation", "POST", AGGREGATE, auth=auth, body=body)


def facts(clickhouse, tenant="acme"):
    return clickhouse.query(
        "SELECT charge_period_start, service_category, service_subcategory, model, region_id, service_name, billed_cost, "
        "event_count FROM cost_facts FINAL WHERE tenant_id = {t:String} ORDER BY ALL",
        parameters={"t": tenant},
    ).result_rows


def costs(api, tenant, start, end, **query):
    status, body, _ = api(
        "get_costs",
        "GET",
        COSTS,
        auth=claims(tenant, "user"),
        query={"tenantId": tenant, "from": str(start), "to": str(end), **query},
    )
    assert status == 200, body
    return body


@pytest.fixture(autouse=True)
def no_settle_time(clickhouse, monkeypatch):
    """Aggregate everything ingested so far (in production a 60 s settle window holds the newest back)."""
    monkeypatch.setenv("AGGREGATION_SETTLE_SECONDS", "0")
    reload_settings()


def test_re_running_an_aggregation_gives_exactly_the_same_facts(clickhouse, api):
    day = days_ago(2)
    ingest(api, [event(day=day, costUsd="0.10") for _ in range(30)] + [event(day=day, category="EGRESS")])
    status, first_reply, _ = aggregate(api, {"date": str(day)})
    assert status == 200, first_reply
    first = facts(clickhouse)
    assert first and first_reply["days"][0]["factRows"] == len(first)
    aggregate(api, {"date": str(day)})
    aggregate(api, {"from": str(day), "to": str(day), "tenantId": "acme"})
    assert facts(clickhouse) == first
    assert Decimal(str(costs(api, "acme", day, day)["total"])) == Decimal("3.00") + sum(
        f[6] for f in first if f[1] == "EGRESS"
    )


def test_totals_are_the_same_before_and_after_aggregation(clickhouse, api):
    day = days_ago(3)
    ingest(api, [event(day=day, model=m, inputTokens=12345, outputTokens=678) for m in ("gpt-4o", "gpt-4o-mini", "o3")])
    before = costs(api, "acme", day, day, groupBy="model")
    aggregate(api, {"date": str(day)})
    assert facts(clickhouse)
    assert costs(api, "acme", day, day, groupBy="model") == before


def test_late_telemetry_is_visible_at_once_and_picked_up_by_re_running_the_day(clickhouse, api):
    day = days_ago(4)
    ingest(api, [event(day=day, costUsd="1")])
    aggregate(api, {"date": str(day)})
    # Given late telemetry for the aggregated day
    ingest(api, [event(day=day, costUsd="2")])
    # Then it counts at once (live path), exactly once
    assert costs(api, "acme", day, day)["total"] == 3
    # And re-running the day moves it into the facts without changing the total
    aggregate(api, {"date": str(day)})
    assert sum(f[6] for f in facts(clickhouse)) == Decimal(3)
    assert costs(api, "acme", day, day)["total"] == 3


def test_daily_job_aggregates_yesterday_and_days_with_late_telemetry(clickhouse, api):
    yesterday, late_day, untouched = days_ago(1), days_ago(6), days_ago(8)
    ingest(api, [event(day=d, costUsd="1") for d in (yesterday, late_day, untouched)])
    aggregate(api, {"date": str(untouched)})
    result = run_scheduled("run_daily_aggregation", 1)
    assert {d["date"] for d in result["days"]} == {str(yesterday), str(late_day)}
    # Safe to run twice: nothing left to do but yesterday, and the facts do not change
    before = facts(clickhouse)
    again = run_scheduled("run_daily_aggregation", 1)
    assert {d["date"] for d in again["days"]} == {str(yesterday)}
    assert facts(clickhouse) == before


def test_price_change_reprices_older_days_only_when_asked(clickhouse, api):
    day = days_ago(5)
    ingest(api, [event(day=day, model="gpt-4o", inputTokens=1_000_000, outputTokens=0)])
    assert costs(api, "acme", day, day)["total"] == 2.5
    status, body, _ = api(
        "publish_rate_card",
        "POST",
        "/v1/analytics/finops/rate-card",
        auth=SYSTEM,
        body={
            "effectiveFrom": str(day - timedelta(days=1)),
            "source": "test",
            "prices": [{"meter": "input_tokens", "priceKey": "gpt-4o", "unitPrice": 2.0}],
        },
    )
    assert status == 200, body
    aggregate(api, {"date": str(day)})
    assert costs(api, "acme", day, day)["total"] == 2.5  # not asked: old price kept
    status, body, _ = aggregate(api, {"date": str(day), "reprice": True})
    assert status == 200 and body["repriced"] is True
    assert costs(api, "acme", day, day)["total"] == 2.0
    aggregate(api, {"date": str(day)})  # a later plain re-run keeps the new price
    assert costs(api, "acme", day, day)["total"] == 2.0


def test_new_price_applies_to_usage_from_its_effective_date(clickhouse, api):
    old_day, new_day = days_ago(10), days_ago(2)
    api(
        "publish_rate_card",
        "POST",
        "/v1/analytics/finops/rate-card",
        auth=SYSTEM,
        body={
            "effectiveFrom": str(days_ago(5)),
            "source": "test",
            "prices": [{"meter": "input_tokens", "priceKey": "gpt-4o", "unitPrice": 1.0}],
        },
    )
    ingest(api, [event(day=d, model="gpt-4o", inputTokens=1_000_000, outputTokens=0) for d in (old_day, new_day)])
    assert costs(api, "acme", old_day, old_day)["total"] == 2.5
    assert costs(api, "acme", new_day, new_day)["total"] == 1.0


def test_aggregation_permissions_and_bad_requests(clickhouse, api):
    day = str(days_ago(1))
    assert aggregate(api, {"date": day, "tenantId": "acme"}, auth=claims("acme", "admin"))[0] == 200
    assert aggregate(api, {"date": day}, auth=claims("acme", "admin"))[0] == 403  # all tenants: system only
    assert aggregate(api, {"date": day, "tenantId": "globex"}, auth=claims("acme", "admin"))[0] == 403
    assert aggregate(api, {"date": day, "tenantId": "acme"}, auth=claims("acme", "user"))[0] == 403
    status, body, _ = aggregate(api, {"date": day, "from": day, "to": day})
    assert status == 422 and "either" in body["detail"]
    status, body, _ = aggregate(api, {"date": "2026-02-30"})
    assert status == 422 and body["errors"][0]["loc"][-1] == "date"
    status, body, _ = aggregate(api, {"date": str(days_ago(-2))})
    assert status == 422 and "future" in body["detail"]
    status, body, _ = aggregate(api, {"from": str(days_ago(500)), "to": day})
    assert status == 422 and "400" in body["detail"]


def test_a_re_run_with_a_longer_settle_time_never_moves_the_cutoff_back(clickhouse, api, monkeypatch):
    # Given a day aggregated with no settle time (everything ingested is in the facts)
    day = days_ago(1)
    ingest(api, [event(day=day, costUsd="2") for _ in range(3)])
    aggregate(api, {"date": str(day)})
    # When the daily job re-runs it with the production settle time, which would cut off earlier
    monkeypatch.setenv("AGGREGATION_SETTLE_SECONDS", "3600")
    reload_settings()
    aggregate(api, {"date": str(day)})
    clickhouse.command("OPTIMIZE TABLE cost_facts FINAL")
    # Then the day still counts every event once
    assert costs(api, "acme", day, day)["total"] == 6
    assert sum(f[6] for f in facts(clickhouse)) == Decimal(6)


class Recorder:
    """Wraps the layer's ClickHouse client: after every statement an aggregation sends, runs `probe` (a reader),
    and may make the run die right after its n-th statement, as a Lambda killed by its time-out would."""

    def __init__(self, client, probe, *, die_after: int | None = None):
        self._client, self._probe, self._die_after = client, probe, die_after
        self.statements = 0
        self.seen = []

    def __getattr__(self, name):
        return getattr(self._client, name)

    def command(self, *args, **kwargs):
        result = self._client.command(*args, **kwargs)
        self.statements += 1
        self.seen.append(self._probe())
        if self._die_after is not None and self.statements >= self._die_after:
            raise TimeoutError("killed")
        return result


def two_days_with_late_telemetry(api):
    """Two days aggregated, then late telemetry for both: the next run has facts to replace and live events."""
    days = [days_ago(2), days_ago(1)]
    ingest(api, [event(day=d, costUsd="1.25") for d in days for _ in range(4)])
    aggregate(api, {"from": str(days[0]), "to": str(days[1])})
    ingest(api, [event(day=d, costUsd="0.5", model=m) for d in days for m in ("gpt-4o", "o3")])
    return days


def test_readers_see_the_same_total_at_every_step_of_a_run(clickhouse, api):
    """Found by the review: between the facts and the watermark statements every reader counted the day twice."""
    from finops.costs.aggregation import aggregate_days

    days = two_days_with_late_telemetry(api)
    expected = Decimal(2 * (4 * Decimal("1.25") + 2 * Decimal("0.5")))
    recorder = Recorder(clickhouse, lambda: Decimal(str(costs(api, "acme", days[0], days[1])["total"])))
    aggregate_days(recorder, days, settle_seconds=0)
    assert recorder.statements >= 2 and set(recorder.seen) == {expected}


@pytest.mark.parametrize("die_after", [1, 2, 3])
def test_a_run_killed_after_any_statement_leaves_correct_totals_and_the_next_run_completes_it(
    clickhouse, api, die_after
):
    from finops.costs.aggregation import aggregate_days
    from finops.costs.store import days_needing_aggregation

    days = two_days_with_late_telemetry(api)
    expected = 2 * (4 * 1.25 + 2 * 0.5)
    recorder = Recorder(clickhouse, lambda: None, die_after=die_after)
    with pytest.raises(TimeoutError):
        aggregate_days(recorder, days, settle_seconds=0)
    assert costs(api, "acme", days[0], days[1])["total"] == expected
    # The daily job finds what the dead run left undone (statements: facts of day 1, its row count, facts of
    # day 2, ...), and finishes it
    assert bool(days_needing_aggregation(clickhouse, since=days[0], until=days[1])) == (die_after < 3)
    run_scheduled("run_daily_aggregation", 1)
    assert days_needing_aggregation(clickhouse, since=days[0], until=days[1]) == []
    assert costs(api, "acme", days[0], days[1])["total"] == expected
    assert sum(f[6] for f in facts(clickhouse)) == Decimal(str(expected))  # all of it in the facts now


def test_two_runs_of_the_same_day_that_race_agree(clickhouse, api):
    """Run B started first (older clock) but writes last, after run A: whichever rows win, the day counts once."""
    from datetime import UTC, datetime

    from finops.costs.aggregation import aggregate_days

    day = days_ago(1)
    ingest(api, [event(day=day, costUsd="3") for _ in range(2)])
    started = datetime.now(UTC)
    ingest(api, [event(day=day, costUsd="4")])  # after B's clock, before A's
    aggregate_days(clickhouse, [day], settle_seconds=0)  # run A: holds all three events
    aggregate_days(clickhouse, [day], settle_seconds=0, now=started)  # run B: its clock says only two
    assert costs(api, "acme", day, day)["total"] == 10
    clickhouse.command("OPTIMIZE TABLE cost_facts FINAL")
    assert costs(api, "acme", day, day)["total"] == 10


def test_facts_written_before_the_cutoff_column_take_their_runs_watermark(clickhouse):
    """The migration that moved cut-offs into the fact rows: an older row gets the watermark of its own run."""
    from pathlib import Path

    from finops.db.migrate import split_statements

    clickhouse.command(
        "INSERT INTO cost_aggregation_watermarks (tenant_id, usage_date, events_through, aggregated_at, repriced) "
        "VALUES ('acme', '2026-01-02', '2026-01-03 00:05:00', '2026-01-03 01:00:00', false)"
    )
    clickhouse.command(
        "INSERT INTO cost_facts (tenant_id, charge_period_start, service_category, service_subcategory, model, "
        "region_id, service_name, billed_cost, consumed_quantity, pricing_unit, event_count, fallback_priced_events, "
        "aggregated_at) VALUES ('acme', '2026-01-02', 'AI', 'input_tokens', 'gpt-4o', 'us-east-1', 'chat', 5, 1, "
        "'1M tokens', 1, 0, '2026-01-03 01:00:00')"
    )
    migration = Path(__file__).parents[2] / "sql" / "clickhouse" / "007_cost_facts_cutoff.sql"
    for statement in split_statements(migration.read_text())[1:]:  # the column exists already
        clickhouse.command(statement)
    rows = clickhouse.query(
        "SELECT toString(events_through), billed_cost FROM cost_facts FINAL WHERE tenant_id = 'acme'"
    ).result_rows
    assert rows == [("2026-01-03 00:05:00.000000", Decimal(5))]


def effective_totals(clickhouse, tenants, start, end, *, settled_apart):
    """Each tenant's cost and quantity per day and fact key, read one way or the other (finops.costs.queries)."""
    from finops.costs.queries import effective_rows

    rows_sql, params = effective_rows(tenants, start, end, settled_apart=settled_apart)
    return clickhouse.query(
        "SELECT tenant_id, day, service_category, service_subcategory, model, region_id, service_name, "
        f"sum(reported_cost) AS cost, sum(pricing_quantity) AS quantity FROM ({rows_sql}) "
        "GROUP BY ALL HAVING cost != 0 OR quantity != 0 ORDER BY ALL",
        parameters=params,
    ).result_rows


def test_the_many_tenant_read_gives_the_same_rows_as_the_merge_by_key_at_every_step_of_a_run(clickhouse, api):
    """The daily jobs read the days without live rows from their facts alone (`settled_apart`): a settled day, a day
    with late telemetry and a surplus copy, a day not aggregated yet and today read the same either way, and the
    same as before, while a run replaces the facts statement by statement."""
    from finops.costs.aggregation import aggregate_days
    from finops.costs.queries import settled_apart

    tenants = ["acme", "globex"]
    assert settled_apart(clickhouse, tenants) and not settled_apart(clickhouse, ["acme"])

    settled, late, live = days_ago(4), days_ago(3), days_ago(2)
    for tenant, cost in (("acme", "1.25"), ("globex", "7")):
        ingest(api, [event(tenant, day, costUsd=cost) for day in (settled, late) for _ in range(3)])
    aggregate(api, {"from": str(settled), "to": str(late)})
    # The settled day's live rows have expired (cost_live keeps 7 days of ingestion)
    for table in ("cost_live", "cost_live_duplicates"):
        clickhouse.command(
            f"ALTER TABLE {table} DELETE WHERE usage_date = {{d:Date}} SETTINGS mutations_sync = 2",
            parameters={"d": settled},
        )
    resent = event("acme", late, costUsd="0.5", model="o3")
    ingest(api, [resent, event("globex", late, costUsd="2", category="COMPUTE")])
    ingest(api, [resent])  # a surplus copy (the duplicate check records it)
    ingest(api, [event(t, day, costUsd="3") for t in tenants for day in (live, today_())])
    expected = effective_totals(clickhouse, tenants, settled, today_(), settled_apart=False)
    assert sum(row[7] for row in expected) == 2 * (3 * Decimal("1.25") + 3 * Decimal(7)) + Decimal("0.5") + 2 + 12

    def both_ways():
        # Costs as before the run; quantities too, but for the surplus copy's (counted twice until its day's run).
        apart = effective_totals(clickhouse, tenants, settled, today_(), settled_apart=True)
        merged = effective_totals(clickhouse, tenants, settled, today_(), settled_apart=False)
        return apart == merged and [row[:8] for row in apart] == [row[:8] for row in expected]

    assert both_ways()
    recorder = Recorder(clickhouse, both_ways)
    aggregate_days(recorder, [settled, late, live], settle_seconds=0)
    assert recorder.statements >= 6 and set(recorder.seen) == {True}


def today_():
    return days_ago(0)


def test_the_jobs_read_the_settled_days_apart_only_where_a_materialized_cte_is_evaluated_once(clickhouse):
    """Found by the review: without enable_materialized_cte a server inlines the set of live days at each use, and
    two reads of cost_live taken at different moments could count a day's facts twice or not at all."""
    from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

    from finops.costs.queries import _ONCE_PROBE, evaluates_materialized_cte_once, settled_apart

    assert evaluates_materialized_cte_once(clickhouse)  # chDB's ClickHouse 26.9, with the setting
    inlined = _ONCE_PROBE.replace("SETTINGS enable_materialized_cte = 1", "SETTINGS enable_materialized_cte = 0")
    counts = {clickhouse.query(inlined).result_rows[0][0] for _ in range(5)}
    assert counts != {100_000}  # the probe tells an inlining server apart

    class Server:
        def __init__(self, answer):
            self.answer = answer

        def query(self, sql):
            if isinstance(self.answer, Exception):
                raise self.answer
            return type("Result", (), {"result_rows": [[self.answer]]})()

    assert not settled_apart(Server(99_873), ["acme", "globex"])  # inlines the CTE
    assert not settled_apart(Server(DatabaseError("Syntax error: MATERIALIZED")), ["acme", "globex"])  # too old
    with pytest.raises(OperationalError):  # unreachable: not remembered, asked again next time
        settled_apart(Server(OperationalError("connection refused")), ["acme", "globex"])
    slow = DatabaseError("Code: 159. DB::Exception: Timeout exceeded (TIMEOUT_EXCEEDED)", code=159)
    with pytest.raises(DatabaseError):  # too slow to answer: says nothing of the server's SQL either
        settled_apart(Server(slow), ["acme", "globex"])
