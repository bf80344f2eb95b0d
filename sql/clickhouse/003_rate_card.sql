-- The versioned rate card: effective-dated unit prices in USD. A price applies to usage on or after its
-- effective_from until a later version of the same (meter, price_key) takes over. `price_key` is the model
-- for AI meters, the region for egress, the export type for exports, and '*' for the default of a meter.
-- Unit prices are per pricing unit (per 1M tokens, per vCPU-second, per GB-hour, per export, per GB).
-- Engine: ReplacingMergeTree on (meter, price_key, effective_from): re-publishing the same version
-- replaces it instead of adding a second price for the same day.
CREATE TABLE IF NOT EXISTS rate_card
(
    version         UInt32,
    effective_from  Date,
    meter           LowCardinality(String),
    price_key       String,
    unit_price      Decimal(38, 12),
    pricing_unit    LowCardinality(String),
    source          String,
    published_at    DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(published_at)
ORDER BY (meter, price_key, effective_from);
