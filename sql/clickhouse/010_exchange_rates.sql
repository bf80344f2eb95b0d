-- The versioned exchange-rate table: effective-dated rates of each currency in USD (how many US dollars one unit of
-- the currency is worth). A rate applies from its effective_from until a later rate of the same currency takes
-- over, like the rate card's prices. Costs are stored in their billing currency and converted when a report asks for
-- another one; USD is the base (never stored here: one US dollar is one US dollar).
-- Engine: ReplacingMergeTree(published_at) on (currency, effective_from): publishing a rate for the same day again
-- replaces it instead of adding a second rate for that day. Read with FINAL.
CREATE TABLE IF NOT EXISTS exchange_rates
(
    version         UInt32,
    effective_from  Date,
    currency        LowCardinality(String),
    usd_per_unit    Decimal(38, 12),
    source          String,
    published_at    DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(published_at)
ORDER BY (currency, effective_from);
