-- Daily cost facts: one row per tenant, day, category, subcategory (meter), model, region and service.
-- Column names follow the FOCUS specification where one fits (BilledCost, ChargePeriodStart, ServiceCategory,
-- ServiceSubcategory, RegionId, ServiceName, ConsumedQuantity, PricingUnit) in snake_case; FOCUS has no
-- column for an AI model, so `model` keeps its plain name.
--
-- Engine: ReplacingMergeTree(aggregated_at): re-aggregating a day writes the same keys with a newer
-- aggregated_at, and the newest row wins, so a re-run never double counts. Always read with FINAL.
-- Sort key: tenant first, then day, then the dimensions the explorer groups by.
CREATE TABLE IF NOT EXISTS cost_facts
(
    tenant_id             LowCardinality(String),
    charge_period_start   Date,
    service_category      LowCardinality(String),
    service_subcategory   LowCardinality(String),
    model                 LowCardinality(String),
    region_id             LowCardinality(String),
    service_name          LowCardinality(String),
    billed_cost           Decimal(38, 12),
    consumed_quantity     Decimal(38, 9),
    pricing_unit          LowCardinality(String),
    event_count           UInt64,
    fallback_priced_events UInt64,
    billing_currency      LowCardinality(String) DEFAULT 'USD',
    aggregated_at         DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(aggregated_at)
PARTITION BY toYYYYMM(charge_period_start)
ORDER BY (tenant_id, charge_period_start, service_category, service_subcategory, model, region_id, service_name);

-- Which events each (tenant, day) of cost_facts holds: those ingested up to `events_through`. Events
-- ingested later are read live from usage_events until the day is aggregated again.
-- Engine: ReplacingMergeTree(aggregated_at): the newest aggregation of a day wins.
CREATE TABLE IF NOT EXISTS cost_aggregation_watermarks
(
    tenant_id       LowCardinality(String),
    usage_date      Date,
    events_through  DateTime64(6, 'UTC'),
    aggregated_at   DateTime64(6, 'UTC'),
    repriced        Bool
)
ENGINE = ReplacingMergeTree(aggregated_at)
ORDER BY (tenant_id, usage_date);
