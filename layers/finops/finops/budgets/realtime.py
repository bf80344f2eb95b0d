"""The ingestion path's hook into budgets, kept light: PostgreSQL and the budget use cases are imported only when
a database is configured, so the ingest function's cold start does not pay for them otherwise."""

from __future__ import annotations

from finops.observability import logger
from finops.settings import get_settings


def evaluate_after_ingest(tenants: list[str]) -> None:
    """Let budgets react to spend just ingested (`evaluation.evaluate_tenants`). Never fails the ingestion: the
    data is stored either way and the daily check catches up."""
    settings = get_settings()
    if not tenants or not (settings.database_url or settings.database_secret_arn):
        return
    from finops.budgets.evaluation import evaluate_tenants
    from finops.budgets.wiring import budgets

    try:
        evaluate_tenants(budgets(cached_spend=False), tenants)
    except Exception:
        logger.exception("evaluating budgets after ingestion failed", extra={"tenants": tenants[:20]})
