-- Acknowledgements where the FIRST one stands: two admins acknowledging at once both insert, and every read
-- (FINAL) and every merge keeps the earliest. (cost_anomaly_acknowledgements kept the newest; its rows are
-- copied here and it is no longer written.)
-- Engine: ReplacingMergeTree(keep_version) on (tenant_id, anomaly_id), keep_version larger for earlier rows.
CREATE TABLE IF NOT EXISTS cost_anomaly_acknowledgements_v2
(
    tenant_id        LowCardinality(String),
    anomaly_id       UUID,
    acknowledged_by  String,
    acknowledged_at  DateTime64(6, 'UTC'),
    note             String,
    keep_version     UInt64 MATERIALIZED toUInt64(9223372036854775807) - toUInt64(toUnixTimestamp64Micro(acknowledged_at))
)
ENGINE = ReplacingMergeTree(keep_version)
ORDER BY (tenant_id, anomaly_id);

INSERT INTO cost_anomaly_acknowledgements_v2 (tenant_id, anomaly_id, acknowledged_by, acknowledged_at, note)
SELECT tenant_id, anomaly_id, acknowledged_by, acknowledged_at, note FROM cost_anomaly_acknowledgements;
