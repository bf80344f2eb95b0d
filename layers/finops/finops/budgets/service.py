"""What every budget use case works with: `Budgets` holds the PostgreSQL connection, the ClickHouse spend
reader, the notifier and the exchange rates; the use cases (`crud`, `status`, `enforcement`, `evaluation`, `job`)
are plain functions given one.

The rules every use case keeps:
- Every state change and the events it causes are written in one PostgreSQL transaction, with the outbox rows of
  their notifications (`alerts`) and subscription changes (`subscriptions`); the notifier publishes them after the
  commit, and whatever could not be published stays pending for the next run or the drainer.
- Threshold events are unique per budget, period and threshold generation in the database: whichever path (the
  real-time one, an enforcement check, the daily job) records one first, the others find it there and fire nothing.
- Spend is read from ClickHouse with no row lock held; rows are locked afterwards, always in id order.
"""

from __future__ import annotations

from collections.abc import Callable

from pg8000.native import Connection

from finops.auth import Permission, Principal
from finops.budgets import store
from finops.budgets.spend import SpendReader
from finops.budgets.store import BudgetRecord
from finops.currencies.rates import ExchangeRates, current_exchange_rates
from finops.errors import NotFound
from finops.notifications.notifier import Notifier

NOT_FOUND = "budget not found"


class Budgets:
    """The dependencies of the budget use cases. The PostgreSQL connection is taken on first use (`connect`), so
    a request that fails to reach the database fails inside a use case, where enforcement can answer in
    degraded mode."""

    def __init__(
        self,
        *,
        spend_reader: SpendReader,
        notifier: Notifier | None = None,
        conn: Connection | None = None,
        connect: Callable[[], Connection] | None = None,
        exchange_rates: Callable[[], ExchangeRates] | None = None,
    ) -> None:
        if (conn is None) == (connect is None):
            raise ValueError("give either a connection or a way to connect")
        self.spend_reader = spend_reader
        # Budgets in another currency than USD: enforcement estimates (USD) are converted into theirs.
        self.exchange_rates = exchange_rates or (lambda: current_exchange_rates(self.spend_reader.client))
        self.notifier = notifier or Notifier()
        self._conn = conn
        self._connect = connect

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            assert self._connect is not None
            self._conn = self._connect()
        return self._conn

    def visible(
        self,
        principal: Principal,
        budget_id: str,
        permission: Permission,
        *,
        for_update: bool = False,
        include_deleted: bool = False,
    ) -> BudgetRecord:
        """The budget, or 404 when it does not exist, is deleted, or belongs to a tenant the caller can't see
        (the same answer in every case, so ids of other tenants leak nothing); 403 without `permission`."""
        canonical = store.parse_budget_id(budget_id)
        budget = store.get_budget(self.conn, canonical, for_update=for_update) if canonical else None
        if budget is None or (budget.deleted_at is not None and not include_deleted):
            raise NotFound(NOT_FOUND)
        if not principal.can(Permission.READ_BUDGETS, budget.tenant_id):
            raise NotFound(NOT_FOUND)
        principal.require(permission, budget.tenant_id)
        return budget
