-- Raw usage telemetry, one row per accepted event, already rated (billed cost per meter).
--
-- Engine: ReplacingMergeTree keyed by (tenant_id, usage_date, event_id) so that an event written twice
-- (two concurrent retries racing past the duplicate check) collapses to one row. The version column makes
-- the EARLIEST copy win, so a copy that arrives after its day was aggregated can never be counted by both
-- the cost facts and the live path. Always read with FINAL.
-- Sort key: tenant first (every query is per tenant), then day (aggregation and live reads are by day).
-- Partitions: by month, so a day's aggregation touches one partition.
CREATE TABLE IF NOT EXISTS usage_events
(
    event_id            String,
    tenant_id           LowCardinality(String),
    event_time          DateTime64(3, 'UTC'),
    usage_date          Date,
    service_category    LowCardinality(String),
    service_name        LowCardinality(String),
    region_id           LowCardinality(String),
    model               LowCardinality(String),
    export_type         LowCardinality(String),
    -- One entry per meter the event used (for example input_tokens, output_tokens): the fact rows'
    -- subcategory, quantity, pricing unit and cost come from these arrays.
    meters              Array(LowCardinality(String)),
    quantities          Array(Decimal(38, 9)),
    pricing_units       Array(LowCardinality(String)),
    costs               Array(Decimal(38, 12)),
    -- How the cost was set: 'rate_card', 'fallback' (model not on the card: priced by the documented
    -- fallback and flagged), or 'caller' (costUsd sent with the event).
    priced_by           LowCardinality(String),
    rate_card_version   UInt32,
    ingested_at         DateTime64(6, 'UTC'),
    -- Larger for earlier copies: ReplacingMergeTree keeps the row with the largest version.
    keep_version        UInt64 MATERIALIZED toUInt64(9223372036854775807) - toUInt64(toUnixTimestamp64Micro(ingested_at)),
    INDEX idx_ingested_at ingested_at TYPE minmax GRANULARITY 1
)
ENGINE = ReplacingMergeTree(keep_version)
PARTITION BY toYYYYMM(usage_date)
ORDER BY (tenant_id, usage_date, event_id);

-- Every event id ever accepted, per tenant: the ingest path looks re-sent ids up here by primary key,
-- whatever day they were for. Filled by the materialized view below, in the same INSERT as usage_events.
-- Engine: ReplacingMergeTree on (tenant_id, event_id): an id is stored once after merges.
CREATE TABLE IF NOT EXISTS usage_event_ids
(
    tenant_id   LowCardinality(String),
    event_id    String,
    usage_date  Date
)
ENGINE = ReplacingMergeTree
ORDER BY (tenant_id, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS usage_event_ids_mv TO usage_event_ids AS
SELECT tenant_id, event_id, usage_date FROM usage_events;

-- When each (tenant, day) last received telemetry. The cost queries use it to find days whose newest
-- events are not yet in cost_facts (today, and days that received late telemetry), and the daily job
-- uses it to find the days to re-aggregate.
-- Engine: AggregatingMergeTree keeping max(ingested_at) per (tenant_id, usage_date).
CREATE TABLE IF NOT EXISTS usage_ingest_log
(
    tenant_id         LowCardinality(String),
    usage_date        Date,
    last_ingested_at  SimpleAggregateFunction(max, DateTime64(6, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (tenant_id, usage_date);

CREATE MATERIALIZED VIEW IF NOT EXISTS usage_ingest_log_mv TO usage_ingest_log AS
SELECT tenant_id, usage_date, max(ingested_at) AS last_ingested_at
FROM usage_events
GROUP BY tenant_id, usage_date;
