-- Spend as it arrives, pre-aggregated: one row per ingested batch and fact key (tenant, day, category, meter,
-- model, region, service), filled by a materialized view in the same INSERT as usage_events. The cost queries read
-- it, not the raw events, for whatever the facts do not hold yet (rows ingested after a fact row's cut-off), so a
-- query's cost no longer grows with how many events a tenant sent today.
-- `ingested_at` is the batch's ingestion time, exactly as in usage_events: a fact row's cut-off splits these rows
-- exactly as it splits the events.
-- Engine: SummingMergeTree: rows of the same key and ingestion time add up (nothing else merges). Always read with
-- sum()/GROUP BY. Partitions by ingestion day, dropped whole after 7 days (ttl_only_drop_parts): by then the daily
-- aggregation has folded every row into the facts (it re-aggregates each day that received telemetry in the last
-- LATE_TELEMETRY_LOOKBACK_DAYS days, from the raw events).
-- Sort key: tenant, day, the fact key, then ingestion time (a query reads one tenant's days).
CREATE TABLE IF NOT EXISTS cost_live
(
    tenant_id               LowCardinality(String),
    usage_date              Date,
    service_category        LowCardinality(String),
    service_subcategory     LowCardinality(String),
    model                   LowCardinality(String),
    region_id               LowCardinality(String),
    service_name            LowCardinality(String),
    ingested_at             DateTime64(6, 'UTC'),
    billed_cost             Decimal(38, 12),
    consumed_quantity       Decimal(38, 9),
    event_count             UInt64,
    fallback_priced_events  UInt64
)
ENGINE = SummingMergeTree((billed_cost, consumed_quantity, event_count, fallback_priced_events))
PARTITION BY toYYYYMMDD(ingested_at)
ORDER BY (tenant_id, usage_date, service_category, service_subcategory, model, region_id, service_name, ingested_at)
TTL toDateTime(ingested_at) + INTERVAL 7 DAY
SETTINGS ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS cost_live_mv TO cost_live AS
SELECT tenant_id, usage_date, service_category, meter AS service_subcategory, model, region_id, service_name,
       ingested_at, sum(cost) AS billed_cost, sum(quantity) AS consumed_quantity, count() AS event_count,
       countIf(priced_by = 'fallback') AS fallback_priced_events
FROM usage_events
ARRAY JOIN meters AS meter, quantities AS quantity, costs AS cost
GROUP BY tenant_id, usage_date, service_category, meter, model, region_id, service_name, ingested_at;

-- What was ingested in the last 7 days before this table existed (de-duplicated: the earliest copy of an event).
INSERT INTO cost_live
SELECT tenant_id, usage_date, service_category, meter, model, region_id, service_name, ingested_at, sum(cost),
       sum(quantity), count(), countIf(priced_by = 'fallback')
FROM (SELECT * FROM usage_events FINAL WHERE ingested_at >= now64(6) - toIntervalDay(7))
ARRAY JOIN meters AS meter, quantities AS quantity, costs AS cost
GROUP BY tenant_id, usage_date, service_category, meter, model, region_id, service_name, ingested_at;

-- The duplicate check runs after each insert (finops.costs.ingest): it finds, by this key, the stored copies of the
-- batch's event ids on their days. MD5, not a ClickHouse-only hash, so the ingest path computes the same key.
ALTER TABLE usage_events ADD COLUMN IF NOT EXISTS event_key UInt64 DEFAULT reinterpretAsUInt64(MD5(event_id));

-- An event sent twice reaches usage_events (read with FINAL: the earliest copy wins) and, through the view above,
-- cost_live twice: every later copy found by the duplicate check is recorded here, and the cost queries subtract
-- it from the live spend, so even two retries racing past each other are counted once. Two checks may record the
-- same copy: the key makes it one row.
-- Engine: ReplacingMergeTree on (tenant_id, usage_date, event_id, ingested_at, service_subcategory): one row per
-- meter of a surplus copy, keyed like cost_live's rows. Read with FINAL. Kept as long as cost_live.
CREATE TABLE IF NOT EXISTS cost_live_duplicates
(
    tenant_id            LowCardinality(String),
    usage_date           Date,
    event_id             String,
    ingested_at          DateTime64(6, 'UTC'),
    service_category     LowCardinality(String),
    service_subcategory  LowCardinality(String),
    model                LowCardinality(String),
    region_id            LowCardinality(String),
    service_name         LowCardinality(String),
    billed_cost          Decimal(38, 12)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(ingested_at)
ORDER BY (tenant_id, usage_date, event_id, ingested_at, service_subcategory)
TTL toDateTime(ingested_at) + INTERVAL 7 DAY
SETTINGS ttl_only_drop_parts = 1;

-- The id lookup table was filled on every insert for a lookup the check above replaces.
DROP VIEW IF EXISTS usage_event_ids_mv;
