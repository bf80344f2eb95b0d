-- Which billing currencies each tenant's imported cost is in: a row per tenant and currency, kept by a
-- materialized view. The cost readers load it whole, for a minute per container (finops.costs.queries): a tenant
-- without imported cost then reads only its telemetry, and a report needs the exchange-rate joins only when some
-- currency differs from the one it is asked in, which saves most of the planning time of the one query per call.
-- It may still name a currency whose rows a re-import has since replaced: readers then plan a little more than
-- they need, never less.
CREATE TABLE IF NOT EXISTS imported_cost_currencies
(
    tenant_id         LowCardinality(String),
    billing_currency  LowCardinality(String)
)
ENGINE = ReplacingMergeTree
ORDER BY (tenant_id, billing_currency);

CREATE MATERIALIZED VIEW IF NOT EXISTS imported_cost_currencies_mv TO imported_cost_currencies AS
SELECT DISTINCT tenant_id, billing_currency FROM imported_costs;

-- What was imported before the view existed (a row the view also wrote meanwhile is replaced, not doubled).
INSERT INTO imported_cost_currencies SELECT DISTINCT tenant_id, billing_currency FROM imported_costs;
