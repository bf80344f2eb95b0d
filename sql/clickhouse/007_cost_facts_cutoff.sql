-- Each fact row carries the cut-off it was built with: it holds exactly its key's events ingested up to
-- `events_through`, and readers add, live, only that key's events ingested later. So a day's switch from live
-- events to facts is atomic per row: a reader sees either the old row and its live events or the new row and
-- fewer live events, never both, even halfway through an aggregation or after one that crashed.
-- (Until now the cut-off was a separate row in cost_aggregation_watermarks, written by a second statement:
-- between the two, and forever after a crash between them, the day was counted twice. That table is no longer
-- written or read.)
ALTER TABLE cost_facts ADD COLUMN IF NOT EXISTS events_through DateTime64(6, 'UTC') DEFAULT aggregated_at - toIntervalSecond(60);

-- Rows written before this column existed take the cut-off their run recorded as the day's watermark (same
-- tenant, day and aggregation time), as a newer copy of the row (ReplacingMergeTree(aggregated_at)).
INSERT INTO cost_facts (tenant_id, charge_period_start, service_category, service_subcategory, model, region_id,
                        service_name, billed_cost, consumed_quantity, pricing_unit, event_count,
                        fallback_priced_events, billing_currency, events_through, aggregated_at)
SELECT f.tenant_id, f.charge_period_start, f.service_category, f.service_subcategory, f.model, f.region_id,
       f.service_name, f.billed_cost, f.consumed_quantity, f.pricing_unit, f.event_count, f.fallback_priced_events,
       f.billing_currency, w.events_through, f.aggregated_at + toIntervalMicrosecond(1)
FROM (SELECT * FROM cost_facts FINAL) AS f
INNER JOIN (SELECT tenant_id, usage_date, aggregated_at, max(events_through) AS events_through
            FROM cost_aggregation_watermarks GROUP BY tenant_id, usage_date, aggregated_at) AS w
    ON w.tenant_id = f.tenant_id AND w.usage_date = f.charge_period_start AND w.aggregated_at = f.aggregated_at;
