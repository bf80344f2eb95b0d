"""GET /v1/analytics/finops/costs/by-model: a tenant's costs by model, with each one's share."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from finops.api import api_handler, make_resolver
from finops.costs.routes import breakdown_route

router = Router()
breakdown_route(router, "model")

app = make_resolver(router)

lambda_handler = api_handler(app)
