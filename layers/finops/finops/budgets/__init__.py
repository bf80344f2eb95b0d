"""Budgets: amounts per period for a tenant's spend, the alerts and enforcement they drive.

- `models`: the API's requests and replies. `policy` and `periods`: the rules, pure functions.
- Use cases, plain functions given a `service.Budgets` (its docstring says the transaction and outbox rules they
  keep): `crud`, `status`, `enforcement`, `evaluation` (spend to state and events, after ingestion too), `job` (the
  daily check), `forecasts` (for the daily check); `alerts` and `subscriptions` say what a change queues.
- Storage: `store` (PostgreSQL: budgets, spend snapshots, subscriptions), `store_events` (the audit trail),
  `store_enforcement` (reservations, Idempotency-Keys); `spend` reads spend from ClickHouse.
- `wiring`: the container's `Budgets`; `realtime`: the light hook the ingestion calls.
"""
