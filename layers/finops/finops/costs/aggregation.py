"""Aggregation: build the daily cost facts of some days from the raw events, idempotently and atomically.

A run for a day reads the day's events ingested up to a cut-off (its start minus a settle time, so an insert
still in flight is never half-read) and writes, in ONE statement, one fact row per tenant, category, meter,
model, region and service, each carrying that cut-off (`events_through`) and a newer `aggregated_at`
(ReplacingMergeTree keeps the newest). Readers add, live, only the events of a row's key ingested after the
row's own cut-off (finops.costs.queries), so whichever version of a row a reader sees, the total is the same:
mid-run, after a run that crashed halfway, and while two runs of the same day race. Nothing else is written.

A day's cut-off never moves back: a run with a shorter settle time (or an older clock) than the previous one
keeps the previous cut-off, so the set of days a reader must scan for live events only ever shrinks.

The statements are finops.costs.store's; the scheduled run of every night, finops.costs.job.

Re-pricing (`reprice=True`) first re-rates the day's raw events with the rate card in effect on that day
(caller-priced events keep their cost), then aggregates as usual: a later plain re-run keeps the new prices.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from clickhouse_connect.driver.client import Client

from finops.costs.meters import METERS_BY_NAME
from finops.costs.models import AggregatedDay, AggregateRequest, AggregateResponse
from finops.costs.rate_card import RateCard, current_rate_card
from finops.costs.store import price_keys_of_day, reprice_events, write_facts
from finops.errors import InvalidRequest
from finops.observability import add_count
from finops.settings import get_settings


@dataclass(frozen=True)
class DayAggregated:
    day: date
    fact_rows: int
    seconds: float


def run_aggregation(client: Client, request: AggregateRequest) -> AggregateResponse:
    """The aggregation endpoint: the days asked for, up to today, re-priced first if asked."""
    settings = get_settings()
    days = request.days
    if len(days) > settings.max_query_days:
        raise InvalidRequest(f"at most {settings.max_query_days} days per aggregation", field="to", location="body")
    today = datetime.now(UTC).date()
    if days[-1] > today:
        raise InvalidRequest(
            "cannot aggregate days in the future", field="to" if request.to else "date", location="body"
        )
    card = current_rate_card(client) if request.reprice else None
    done = aggregate_days(
        client,
        days,
        tenant_id=request.tenant_id,
        reprice=request.reprice,
        card=card,
        settle_seconds=settings.aggregation_settle_seconds,
    )
    return reply_of_run(done, tenant_id=request.tenant_id, repriced=request.reprice)


def reply_of_run(
    done: list[DayAggregated], *, tenant_id: str | None = None, repriced: bool = False
) -> AggregateResponse:
    """What a run did, as its reply; its fact rows are counted in the RowsAggregated metric."""
    add_count("RowsAggregated", sum(d.fact_rows for d in done))
    return AggregateResponse(
        tenant_id=tenant_id,
        repriced=repriced,
        days=[AggregatedDay(date_=d.day, fact_rows=d.fact_rows, seconds=round(d.seconds, 3)) for d in done],
    )


def aggregate_days(
    client: Client,
    days: list[date],
    *,
    tenant_id: str | None = None,
    reprice: bool = False,
    card: RateCard | None = None,
    settle_seconds: int = 60,
    now: datetime | None = None,
) -> list[DayAggregated]:
    results = []
    for day in sorted(set(days)):
        started = time.perf_counter()
        at = now or datetime.now(UTC)
        if reprice:
            if card is None:
                raise ValueError("re-pricing needs the rate card")
            reprice_day(client, card, day, tenant_id)
        through_us = int((at - timedelta(seconds=settle_seconds)).timestamp() * 1_000_000)
        written = write_facts(client, day, tenant_id, through_us=through_us, aggregated_at=at)
        results.append(DayAggregated(day=day, fact_rows=written, seconds=time.perf_counter() - started))
    return results


def reprice_day(client: Client, card: RateCard, day: date, tenant_id: str | None) -> None:
    keys, prices, fallback_models = [], [], []
    for found in price_keys_of_day(client, day, tenant_id):
        price = card.price(METERS_BY_NAME[found.meter], found.key, day)
        if price is None:
            continue  # nothing on the card for that day: the events keep the cost they were ingested with
        keys.append(f"{found.meter}|{found.key}")
        prices.append(price.unit_price)
        if price.is_fallback:
            fallback_models.append(found.key)
    reprice_events(
        client,
        day,
        tenant_id,
        keys=keys,
        prices=prices,
        fallback_models=sorted(set(fallback_models)),
        version=card.latest_version,
    )
