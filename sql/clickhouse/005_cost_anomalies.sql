-- Detected cost anomalies: one row per tenant, day, category and detection method. The id is derived from
-- that key, so re-running detection over the same days rewrites the same anomaly instead of adding one.
-- A re-run that no longer finds an anomaly writes it back with active = false.
-- Engine: ReplacingMergeTree(detected_at): the newest detection of a key wins. Always read with FINAL.
-- Sort key: tenant first, then day (the endpoint reads a tenant's date range).
CREATE TABLE IF NOT EXISTS cost_anomalies
(
    id                 UUID,
    tenant_id          LowCardinality(String),
    anomaly_date       Date,
    service_category   LowCardinality(String),
    method             LowCardinality(String),
    active             Bool,
    direction          LowCardinality(String),
    severity           LowCardinality(String),
    expected_cost      Decimal(38, 6),
    actual_cost        Decimal(38, 6),
    impact             Decimal(38, 6),
    deviation_percent  Float64,
    score              Float64,
    -- JSON array of {dimension, key, contribution, share, firstSeen}: what drove the difference.
    root_causes        String,
    detected_at        DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(detected_at)
PARTITION BY toYYYYMM(anomaly_date)
ORDER BY (tenant_id, anomaly_date, service_category, method);

-- Who acknowledged an anomaly and when. Kept apart from cost_anomalies so that re-running detection can
-- never undo an acknowledgement.
-- Engine: ReplacingMergeTree(acknowledged_at) on (tenant_id, anomaly_id).
CREATE TABLE IF NOT EXISTS cost_anomaly_acknowledgements
(
    tenant_id        LowCardinality(String),
    anomaly_id       UUID,
    acknowledged_by  String,
    acknowledged_at  DateTime64(6, 'UTC'),
    note             String
)
ENGINE = ReplacingMergeTree(acknowledged_at)
ORDER BY (tenant_id, anomaly_id);
