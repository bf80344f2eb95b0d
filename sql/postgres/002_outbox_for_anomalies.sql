-- Anomaly alerts use the same outbox as budget alerts: an outbox row may now come from an anomaly (its id is
-- the anomaly's id, stable across re-runs, so each anomaly is published once) instead of a budget event.
ALTER TABLE finops_notification_outbox DROP CONSTRAINT IF EXISTS finops_notification_outbox_event_id_fkey;
ALTER TABLE finops_notification_outbox ALTER COLUMN budget_id DROP NOT NULL;
