import pytest

from finops.auth import Permission, Role, principal_from_claims
from finops.errors import Forbidden, Unauthorized


@pytest.mark.parametrize(
    "roles",
    [["admin", "user"], "[admin user]", '["admin","user"]', "admin,user", "admin user"],
)
def test_roles_claim_is_read_in_every_shape_api_gateway_may_pass(roles):
    principal = principal_from_claims({"tenant_id": "acme", "roles": roles})
    assert principal.roles == {Role.ADMIN, Role.USER}


def test_no_claims_is_unauthorized():
    with pytest.raises(Unauthorized):
        principal_from_claims({})


def test_token_without_known_role_is_forbidden():
    with pytest.raises(Forbidden):
        principal_from_claims({"tenant_id": "acme", "roles": "[owner]"})


def test_tenant_token_without_tenant_claim_is_forbidden():
    with pytest.raises(Forbidden):
        principal_from_claims({"roles": "[admin]"})


@pytest.mark.parametrize(
    ("role", "permission", "allowed"),
    [
        ("user", Permission.READ_COSTS, True),
        ("user", Permission.INGEST, False),
        ("user", Permission.AGGREGATE, False),
        ("user", Permission.MANAGE_BUDGETS, False),
        ("admin", Permission.READ_COSTS, True),
        ("admin", Permission.INGEST, True),
        ("admin", Permission.AGGREGATE, True),
        ("admin", Permission.MANAGE_BUDGETS, True),
        ("admin", Permission.MANAGE_RATE_CARD, False),
    ],
)
def test_tenant_roles_hold_their_permissions_for_their_own_tenant_only(role, permission, allowed):
    principal = principal_from_claims({"tenant_id": "acme", "roles": [role]})
    assert principal.can(permission, "acme") is allowed
    assert principal.can(permission, "globex") is False
    assert principal.can(permission, None) is False


def test_system_may_act_for_any_tenant_and_for_all_tenants():
    principal = principal_from_claims({"roles": "[system]"})
    for permission in Permission:
        assert principal.can(permission, "acme")
        assert principal.can(permission, None)


def test_cross_tenant_refusal_does_not_depend_on_the_other_tenant():
    principal = principal_from_claims({"tenant_id": "acme", "roles": ["user"]})
    messages = set()
    for other in ("globex", "does-not-exist"):
        with pytest.raises(Forbidden) as refused:
            principal.require(Permission.READ_COSTS, other)
        messages.add(refused.value.message)
    assert len(messages) == 1
