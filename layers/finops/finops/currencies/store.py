"""The SQL of the exchange rates: the versioned, effective-dated table `exchange_rates`, rows mapped by name."""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

from finops.currencies.models import ExchangeRate, PublishExchangeRatesRequest
from finops.db.clickhouse import insert_version, typed_rows


def exchange_rate_rows(client: Client) -> list[ExchangeRate]:
    return typed_rows(
        client,
        ExchangeRate,
        "SELECT version, effective_from, toString(currency) AS currency, usd_per_unit, source "
        "FROM exchange_rates FINAL ORDER BY currency, effective_from",
    )


def insert_exchange_rates_version(client: Client, request: PublishExchangeRatesRequest) -> int:
    """Store the request's rates as the table's next version; returns that version."""
    columns = ("currency", "effective_from", "usd_per_unit")
    return insert_version(client, "exchange_rates", request.rates, columns, source=request.source)
