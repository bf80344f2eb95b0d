-- Cost imported from FOCUS files (cloud bills), summed per day and dimension: one row per tenant, charge day,
-- source (`focus:<provider>`), billing account, sub account and billing period, import, category, subcategory, model,
-- region, service, charge category, billing currency and pricing unit. Amounts are in the row's billing currency, exactly as billed
-- (BilledCost, EffectiveCost and ListCost are all kept; credits are negative).
--
-- Re-imports replace, never add: every import writes its rows under its own `import_id`, then records in
-- imported_cost_slices, in one insert, which import now holds each slice of a bill it covered: a (scope, source,
-- billing account, sub account, billing period), where the scope is the tenant the import was made for ('' when a
-- column named the tenants). Readers take, for each slice, only the rows of its latest recorded import, so importing a file twice,
-- or a re-stated bill, replaces what an earlier import said about those slices, and rows of an import that has not
-- finished (or failed halfway) are never seen.
-- Engine: SummingMergeTree: the partial sums of one import (flushed in chunks while a large file streams in) add up;
-- rows of different imports never merge, the import id being part of the key. Read with sum()/GROUP BY.
-- Sort key: tenant first, then day, then the slice and the dimensions.
-- Partitions by month of the charge. TTL: bills are history, kept ten years by default (IMPORTED_COST_RETENTION_DAYS
-- must agree; README, "Importing FOCUS cost data", says how to change both); superseded imports' rows go with it.
CREATE TABLE IF NOT EXISTS imported_costs
(
    tenant_id             LowCardinality(String),
    charge_period_start   Date,
    source                LowCardinality(String),
    billing_account_id    String,
    sub_account_id        String,
    billing_period_start  Date,
    import_scope          String,
    import_id             UUID,
    service_category      LowCardinality(String),
    service_subcategory   LowCardinality(String),
    model                 LowCardinality(String),
    region_id             LowCardinality(String),
    service_name          LowCardinality(String),
    charge_category       LowCardinality(String),
    billing_currency      LowCardinality(String),
    pricing_unit          LowCardinality(String),
    billed_cost           Decimal(38, 12),
    effective_cost        Decimal(38, 12),
    list_cost             Decimal(38, 12),
    pricing_quantity      Decimal(38, 12),
    row_count             UInt64
)
ENGINE = SummingMergeTree((billed_cost, effective_cost, list_cost, pricing_quantity, row_count))
PARTITION BY toYYYYMM(charge_period_start)
ORDER BY (tenant_id, charge_period_start, source, billing_account_id, sub_account_id, billing_period_start, import_scope,
          import_id,
          service_category, service_subcategory, model, region_id, service_name, charge_category, billing_currency,
          pricing_unit)
TTL charge_period_start + toIntervalDay(3653);

-- Which import holds each slice of a bill: the one recorded last. A slice is (scope, source, billing account,
-- sub account, billing period); the scope is the tenant an import was made for, or '' when a column of the file named the tenants.
-- Engine: ReplacingMergeTree(committed_at) on the slice: the latest import of a slice wins (readers use argMax, so
-- they need no FINAL). No tenant first: a slice may hold many tenants' rows; the table is small (a row per import,
-- sub account and billing period) and read whole by the cost queries.
CREATE TABLE IF NOT EXISTS imported_cost_slices
(
    import_scope          String,
    source                LowCardinality(String),
    billing_account_id    String,
    sub_account_id        String,
    billing_period_start  Date,
    import_id             UUID,
    committed_at          DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(committed_at)
ORDER BY (import_scope, source, billing_account_id, sub_account_id, billing_period_start);
