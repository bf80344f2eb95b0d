-- The outbox retries with back-off and parks what never goes through: `next_attempt_at` is when a row may be
-- tried again (30 s after the first failure, doubling, at most an hour apart), and after OUTBOX_MAX_ATTEMPTS
-- failures `dead_at` is set: the row is kept (and alarmed on), and no longer tried until an operator requeues it.
-- A row is now either a message to publish or a change of a budget's e-mail subscriptions on one topic
-- (`kind`): both are written in the transaction of the change that causes them and done after it commits,
-- so an SNS error after a committed change is retried, never lost. `published_at`: when it was done.
ALTER TABLE finops_notification_outbox ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'message'
    CHECK (kind IN ('message', 'subscriptions'));
ALTER TABLE finops_notification_outbox ADD COLUMN IF NOT EXISTS next_attempt_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE finops_notification_outbox ADD COLUMN IF NOT EXISTS dead_at timestamptz;
ALTER TABLE finops_notification_outbox ALTER COLUMN subject DROP NOT NULL;
ALTER TABLE finops_notification_outbox ALTER COLUMN body_text DROP NOT NULL;
ALTER TABLE finops_notification_outbox ALTER COLUMN body_json DROP NOT NULL;
ALTER TABLE finops_notification_outbox ADD CONSTRAINT finops_outbox_message_has_content
    CHECK (kind <> 'message' OR (subject IS NOT NULL AND body_text IS NOT NULL AND body_json IS NOT NULL));
DROP INDEX IF EXISTS finops_notification_outbox_pending;
CREATE INDEX IF NOT EXISTS finops_notification_outbox_due ON finops_notification_outbox (kind, next_attempt_at, created_at)
    WHERE published_at IS NULL AND dead_at IS NULL;
CREATE INDEX IF NOT EXISTS finops_notification_outbox_dead ON finops_notification_outbox (dead_at) WHERE dead_at IS NOT NULL;
