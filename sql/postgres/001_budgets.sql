-- Budgets: configuration and policy, plus the state the policy engine keeps (spend, state, period).
-- Rules live here as constraints, not only in Python, so no writer can store an invalid budget.
CREATE TABLE IF NOT EXISTS finops_budgets (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id             text NOT NULL CHECK (length(tenant_id) BETWEEN 1 AND 128),
    name                  text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    amount                numeric(18, 6) NOT NULL CHECK (amount > 0),
    currency              text NOT NULL DEFAULT 'USD' CHECK (currency = 'USD'),
    period                text NOT NULL CHECK (period IN ('daily', 'monthly', 'quarterly', 'annual')),
    start_date            date NOT NULL,
    -- Empty arrays mean "all": every category, model, region, service.
    categories            text[] NOT NULL DEFAULT '{}'
                          CHECK (categories <@ ARRAY['AI', 'COMPUTE', 'STORAGE', 'EXPORT', 'EGRESS']),
    models                text[] NOT NULL DEFAULT '{}',
    regions               text[] NOT NULL DEFAULT '{}',
    services              text[] NOT NULL DEFAULT '{}',
    notify_threshold      numeric(7, 2) NOT NULL CHECK (notify_threshold BETWEEN 1 AND 1000),
    enforce_threshold     numeric(7, 2) CHECK (enforce_threshold BETWEEN 1 AND 1000),
    actions               text[] NOT NULL DEFAULT '{}'
                          CHECK (actions <@ ARRAY['notify', 'alert_admins', 'rate_limit', 'block_ai', 'block_export']),
    notify_emails         text[] NOT NULL DEFAULT '{}' CHECK (cardinality(notify_emails) <= 10),
    admin_emails          text[] NOT NULL DEFAULT '{}' CHECK (cardinality(admin_emails) <= 10),
    rate_limit_factor     numeric(4, 3) CHECK (rate_limit_factor > 0 AND rate_limit_factor <= 1),
    version               integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    -- Bumped when a change (amount, thresholds, filters) lets the thresholds of the period fire again.
    threshold_generation  integer NOT NULL DEFAULT 1,
    state                 text NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'notified', 'enforced')),
    period_start          date,
    spent                 numeric(18, 6) NOT NULL DEFAULT 0,
    spend_as_of           timestamptz,
    created_by            text NOT NULL DEFAULT '',
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    deleted_at            timestamptz,
    CONSTRAINT rate_limit_needs_a_factor CHECK (NOT ('rate_limit' = ANY (actions)) OR rate_limit_factor IS NOT NULL),
    CONSTRAINT enforce_not_below_notify CHECK (enforce_threshold IS NULL OR enforce_threshold >= notify_threshold)
);

-- One live budget per name and tenant (deleted ones keep their name for the audit trail).
CREATE UNIQUE INDEX IF NOT EXISTS finops_budgets_live_name ON finops_budgets (tenant_id, lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS finops_budgets_live_by_tenant ON finops_budgets (tenant_id) WHERE deleted_at IS NULL;

-- The audit trail: every change and every policy decision worth telling someone about.
-- budget_id survives a hard delete of the budget (no foreign key), so the trail stays readable.
CREATE TABLE IF NOT EXISTS finops_budget_events (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    budget_id             uuid NOT NULL,
    tenant_id             text NOT NULL,
    event_type            text NOT NULL CHECK (event_type IN (
                              'created', 'updated', 'deleted', 'period_rollover', 'threshold_notify',
                              'threshold_enforce', 'enforcement_lifted', 'forecast_exceeds')),
    severity              text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    period_start          date,
    threshold_generation  integer,
    threshold_percent     numeric(7, 2),
    spent                 numeric(18, 6),
    amount                numeric(18, 6),
    percent_used          numeric(12, 4),
    actor                 text NOT NULL DEFAULT '',
    source                text NOT NULL DEFAULT '' CHECK (source IN ('', 'api', 'realtime', 'daily_check')),
    details               jsonb NOT NULL DEFAULT '{}',
    created_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS finops_budget_events_by_budget ON finops_budget_events (budget_id, created_at DESC, id);
-- Each threshold fires once per budget, period and threshold generation: whichever of the real-time path and
-- the daily job inserts first wins, the other's insert does nothing.
CREATE UNIQUE INDEX IF NOT EXISTS finops_budget_events_once_per_period
    ON finops_budget_events (budget_id, period_start, event_type, threshold_generation)
    WHERE event_type IN ('threshold_notify', 'threshold_enforce', 'forecast_exceeds', 'period_rollover');

-- Daily spend snapshots, one per budget and day (the daily check upserts it).
CREATE TABLE IF NOT EXISTS finops_budget_spend_history (
    budget_id      uuid NOT NULL,
    snapshot_date  date NOT NULL,
    tenant_id      text NOT NULL,
    period_start   date NOT NULL,
    spent          numeric(18, 6) NOT NULL,
    amount         numeric(18, 6) NOT NULL,
    percent_used   numeric(12, 4) NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (budget_id, snapshot_date)
);

-- Estimated costs of operations allowed by an enforcement check and not yet seen in ingested spend. They
-- count toward the budget until they expire, so a burst of concurrent checks cannot run past a threshold by
-- more than the estimates in flight.
CREATE TABLE IF NOT EXISTS finops_budget_reservations (
    id              bigserial PRIMARY KEY,
    budget_id       uuid NOT NULL REFERENCES finops_budgets (id) ON DELETE CASCADE,
    amount          numeric(18, 6) NOT NULL CHECK (amount >= 0),
    operation_type  text NOT NULL,
    expires_at      timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS finops_budget_reservations_live ON finops_budget_reservations (budget_id, expires_at);

-- Transactional outbox: a notification is written in the same transaction as the event that causes it and
-- published to SNS afterwards; `published_at` stays NULL until SNS accepted it, so nothing is lost when SNS is
-- down, and the event id travels in the message so consumers can drop a rare re-delivery.
CREATE TABLE IF NOT EXISTS finops_notification_outbox (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id       uuid NOT NULL REFERENCES finops_budget_events (id) ON DELETE CASCADE,
    topic          text NOT NULL CHECK (topic IN ('alerts', 'admin')),
    tenant_id      text NOT NULL,
    budget_id      uuid NOT NULL,
    event_type     text NOT NULL,
    severity       text NOT NULL,
    subject        text NOT NULL CHECK (length(subject) BETWEEN 1 AND 100),
    body_text      text NOT NULL,
    body_json      jsonb NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    attempts       integer NOT NULL DEFAULT 0,
    last_error     text,
    published_at   timestamptz,
    message_id     text,
    UNIQUE (event_id, topic)
);
CREATE INDEX IF NOT EXISTS finops_notification_outbox_pending ON finops_notification_outbox (created_at) WHERE published_at IS NULL;

-- The SNS email subscriptions made for a budget's notifyEmails, so they can be kept in step with the budget.
CREATE TABLE IF NOT EXISTS finops_budget_subscriptions (
    budget_id         uuid NOT NULL,
    email             text NOT NULL,
    topic             text NOT NULL CHECK (topic IN ('alerts', 'admin')),
    subscription_arn  text NOT NULL,
    PRIMARY KEY (budget_id, topic, email)
);
