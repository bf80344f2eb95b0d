-- Enforcement checks sent with an Idempotency-Key: the first check's decision, so a retry answers the same and
-- reserves nothing more. The key is taken (inserted) at the start of the check's transaction: a concurrent
-- duplicate waits on the primary key until the first commits, then reads its decision. Purged after 24 hours
-- by the daily check. `scope` is the route's target ('budget:<id>' or 'tenant:<id>').
CREATE TABLE IF NOT EXISTS finops_enforcement_checks (
    scope            text NOT NULL CHECK (length(scope) BETWEEN 1 AND 300),
    idempotency_key  text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    fingerprint      text NOT NULL,
    decision         jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, idempotency_key)
);
CREATE INDEX IF NOT EXISTS finops_enforcement_checks_age ON finops_enforcement_checks (created_at);
