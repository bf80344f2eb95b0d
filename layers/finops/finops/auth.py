"""Who is calling, and what they may do for which tenant.

API Gateway's JWT authorizer has already checked the token's signature, issuer, audience and expiry; the
handler sees the claims in `requestContext.authorizer.jwt.claims`. Roles, as in the seed:
- `user` reads its own tenant;
- `admin` also manages its own tenant's budgets, ingests and aggregates for it;
- `system` is a service identity that may act for any tenant.

A refusal never says whether the other tenant exists: every cross-tenant request gets the same 403.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from finops.errors import Forbidden, Unauthorized
from finops.settings import get_settings


class Role(StrEnum):
    USER = "user"
    ADMIN = "admin"
    SYSTEM = "system"


class Permission(StrEnum):
    READ_COSTS = "read_costs"
    INGEST = "ingest"
    # Importing a cloud bill (FOCUS) into a tenant; without a tenant (a column names them) it is `system` only.
    IMPORT_COSTS = "import_costs"
    AGGREGATE = "aggregate"
    MANAGE_RATE_CARD = "manage_rate_card"  # also the exchange-rate table, published the same way
    READ_BUDGETS = "read_budgets"
    MANAGE_BUDGETS = "manage_budgets"
    CHECK_ENFORCEMENT = "check_enforcement"
    ACKNOWLEDGE_ANOMALIES = "acknowledge_anomalies"
    # Re-rating stored events rewrites shared table parts with mutations: a platform operation, never a tenant's.
    REPRICE = "reprice"


# Which roles hold a permission for their own tenant. `system` holds every permission for every tenant.
_OWN_TENANT_GRANTS: dict[Permission, frozenset[Role]] = {
    Permission.READ_COSTS: frozenset({Role.USER, Role.ADMIN}),
    Permission.READ_BUDGETS: frozenset({Role.USER, Role.ADMIN}),
    Permission.INGEST: frozenset({Role.ADMIN}),
    Permission.IMPORT_COSTS: frozenset({Role.ADMIN}),
    Permission.AGGREGATE: frozenset({Role.ADMIN}),
    Permission.MANAGE_BUDGETS: frozenset({Role.ADMIN}),
    Permission.CHECK_ENFORCEMENT: frozenset({Role.ADMIN}),
    Permission.ACKNOWLEDGE_ANOMALIES: frozenset({Role.ADMIN}),
    Permission.MANAGE_RATE_CARD: frozenset(),
    Permission.REPRICE: frozenset(),
}

FORBIDDEN_MESSAGE = "not allowed for this tenant"


@dataclass(frozen=True)
class Principal:
    subject: str
    tenant_id: str | None
    roles: frozenset[Role]

    @property
    def is_system(self) -> bool:
        return Role.SYSTEM in self.roles

    def can(self, permission: Permission, tenant_id: str | None) -> bool:
        if self.is_system:
            return True
        if tenant_id is None or tenant_id != self.tenant_id:
            return False
        return bool(self.roles & _OWN_TENANT_GRANTS[permission])

    def require(self, permission: Permission, tenant_id: str | None) -> None:
        """Raise 403 unless the principal may do `permission` for `tenant_id` (None: all tenants)."""
        if not self.can(permission, tenant_id):
            raise Forbidden(FORBIDDEN_MESSAGE)


# The service acting for itself (demo data, benchmarks, internal jobs): holds every permission for every tenant.
INTERNAL = Principal(subject="finops-internal", tenant_id=None, roles=frozenset({Role.SYSTEM}))


def principal_from_claims(claims: Mapping[str, Any] | None) -> Principal:
    """Build the caller from the authorizer's claims; 401 when there are none."""
    if not claims:
        raise Unauthorized("missing or invalid bearer token")
    settings = get_settings()
    tenant = claims.get(settings.tenant_claim)
    roles = {Role(r) for r in _parse_roles(claims.get(settings.roles_claim)) if r in _ROLE_VALUES}
    if not roles:
        raise Forbidden("the token carries no known role")
    tenant_id = str(tenant) if tenant not in (None, "") else None
    if tenant_id is None and Role.SYSTEM not in roles:
        raise Forbidden("the token carries no tenant")
    return Principal(subject=str(claims.get("sub", "")), tenant_id=tenant_id, roles=frozenset(roles))


_ROLE_VALUES = {r.value for r in Role}


def _parse_roles(value: Any) -> Iterable[str]:
    """Roles arrive as a JSON list, or flattened by API Gateway HTTP APIs into '[a b]' or 'a,b'."""
    if value is None:
        return []
    if isinstance(value, list | tuple | set | frozenset):
        return [str(v).strip() for v in value]
    text = str(value).strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
            if isinstance(parsed, list):
                return [str(v).strip() for v in parsed]
        except json.JSONDecodeError:
            text = text.strip("[]")
    return [part for part in text.replace(",", " ").split() if part]
