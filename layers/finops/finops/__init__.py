"""FinOps Cost Explorer & Budgets: the shared Lambda layer (all domain logic lives here)."""
