"""Plans over GraphQL: plans, plan, createPlan, updatePlan, over the same service as REST
/api/v1/plans, with REST's scopes, errors and exact amounts."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.billing_helpers import PLANS, actions
from tests.api.graphql.billing_gql import PLAN_FIELDS, billing_state, instants
from tests.api.graphql.gql import data, error, gql
from tests.api.helpers import assert_error, auth, make_member, ok

LIST = f"query($all: Boolean!) {{ plans(includeInactive: $all) {{ {PLAN_FIELDS} }} }}"
ONE = f"query($ref: String!) {{ plan(ref: $ref) {{ {PLAN_FIELDS} }} }}"
CREATE = (
    f"""mutation($input: CreatePlanInput!) {{ createPlan(input: $input) {{ {PLAN_FIELDS} }} }}"""
)
UPDATE = f"""mutation($ref: String!, $input: UpdatePlanInput!) {{
  updatePlan(ref: $ref, input: $input) {{ {PLAN_FIELDS} }}
}}"""
TEAM = {
    "name": "team",
    "displayName": "Team",
    "monthlyCredits": "25000.123456",
    "rollover": "CAPPED",
    "rolloverCap": "10000",
    "rpmLimit": 300,
    "tpmLimit": "300000000",
    "maxParallel": 8,
    "allowedModels": ["gpt-4o-mini"],
}


def as_rest(plan: dict[str, Any]) -> dict[str, Any]:
    """A GraphQL plan written as REST writes it."""
    names = {
        "displayName": "display_name",
        "monthlyCredits": "monthly_credits",
        "rolloverCap": "rollover_cap",
        "rpmLimit": "rpm_limit",
        "tpmLimit": "tpm_limit",
        "maxParallel": "max_parallel",
        "allowedModels": "allowed_models",
        "allowedCapabilities": "allowed_capabilities",
        "createdAt": "created_at",
        "updatedAt": "updated_at",
    }
    out = {names.get(k, k): v for k, v in plan.items()}
    out["rollover"] = plan["rollover"].lower()
    return instants(out)


async def test_members_see_active_plans_and_admins_retired_ones_too(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    member = await make_member(client, admin_key)
    ok(
        await client.post(
            PLANS,
            headers=auth(admin_key),
            json={"name": "old", "active": False, "monthly_credits": "1"},
        ),
        201,
    )
    for key in (member.key, admin_key):
        plans = (await data(client, key, LIST, {"all": False}))["plans"]
        assert [p["name"] for p in plans] == ["free", "pro", "enterprise"]
        rest = ok(await client.get(PLANS, headers=auth(key)))
        assert [as_rest(p) for p in plans] == [instants(p) for p in rest]
    # a member asking for retired ones gets the active ones, as over REST
    assert len((await data(client, member.key, LIST, {"all": True}))["plans"]) == 3
    every = (await data(client, admin_key, LIST, {"all": True}))["plans"]
    assert [p["name"] for p in every] == ["old", "free", "pro", "enterprise"]

    pro = (await data(client, member.key, ONE, {"ref": "pro"}))["plan"]
    assert (pro["monthlyCredits"], pro["rollover"], pro["active"]) == ("10000", "CAPPED", True)
    assert (await data(client, member.key, ONE, {"ref": pro["id"]}))["plan"] == pro
    assert as_rest(pro) == instants(ok(await client.get(f"{PLANS}/pro", headers=member.headers)))

    for ref in ("old", "nope", "00000000-0000-4000-8000-000000000000"):
        found = await error(client, member.key, ONE, {"ref": ref}, code="PLAN_NOT_FOUND")
        assert found["extensions"]["status"] == 404
        assert found["path"] == ["plan"]
    assert (await data(client, admin_key, ONE, {"ref": "old"}))["plan"]["active"] is False


async def test_admins_create_change_and_retire_plans(
    client: httpx.AsyncClient, admin_key: str
) -> None:
    created = (await data(client, admin_key, CREATE, {"input": TEAM}))["createPlan"]
    assert {k: created[k] for k in TEAM} == {**TEAM, "rpmLimit": 300, "tpmLimit": 300000000}
    assert created["active"] is True
    assert as_rest(created) == instants(
        ok(await client.get(f"{PLANS}/team", headers=auth(admin_key)))
    )

    changed = (
        await data(
            client,
            admin_key,
            UPDATE,
            {
                "ref": created["id"],
                "input": {"monthlyCredits": 7, "rollover": "NONE", "allowedModels": None},
            },
        )
    )["updatePlan"]
    assert (changed["monthlyCredits"], changed["rollover"], changed["rolloverCap"]) == (
        "7",
        "NONE",
        None,  # leaving CAPPED drops the cap
    )
    assert changed["allowedModels"] is None
    assert changed["displayName"] == "Team"  # left out: kept
    retired = await data(client, admin_key, UPDATE, {"ref": "team", "input": {"active": False}})
    assert retired["updatePlan"]["active"] is False
    assert ok(await client.get(f"{PLANS}/team", headers=auth(admin_key)))["active"] is False
    assert (await actions(client, admin_key, 3))[:3] == [
        "plan.update",
        "plan.update",
        "plan.create",
    ]


@pytest.mark.parametrize(
    ("doc", "variables", "rest", "code", "field"),
    [
        (
            CREATE,
            {"name": "x", "monthlyCredits": "1e13"},
            {"monthly_credits": "1e13"},
            "VALIDATION_FAILED",
            "monthlyCredits",
        ),
        (
            CREATE,
            {"name": "x", "monthlyCredits": "-1"},
            {"monthly_credits": "-1"},
            "VALIDATION_FAILED",
            "monthlyCredits",
        ),
        (
            CREATE,
            {"name": "x", "monthlyCredits": "1.0000001"},
            {"monthly_credits": "1.0000001"},
            "VALIDATION_FAILED",
            "monthlyCredits",
        ),
        (
            CREATE,
            {"name": "x", "monthlyCredits": "1", "rpmLimit": 2**31},
            {"monthly_credits": "1", "rpm_limit": 2**31},
            "VALIDATION_FAILED",
            "rpmLimit",
        ),
        (
            CREATE,
            {"name": "x", "monthlyCredits": "1", "rolloverCap": "1e13", "rollover": "CAPPED"},
            {"monthly_credits": "1", "rollover_cap": "1e13", "rollover": "capped"},
            "VALIDATION_FAILED",
            "rolloverCap",
        ),
        (
            CREATE,
            {"name": "x", "monthlyCredits": "1", "rollover": "CAPPED"},
            {"monthly_credits": "1", "rollover": "capped"},
            "VALIDATION_FAILED",
            None,
        ),
        (
            CREATE,
            {"name": "Bad Name", "monthlyCredits": "1"},
            {"name": "Bad Name", "monthly_credits": "1"},
            "VALIDATION_FAILED",
            "name",
        ),
        (
            CREATE,
            {"name": "pro", "monthlyCredits": "1"},
            {"name": "pro", "monthly_credits": "1"},
            "NAME_TAKEN",
            None,
        ),
        (UPDATE, {"rolloverCap": "-5"}, {"rollover_cap": "-5"}, "VALIDATION_FAILED", "rolloverCap"),
        (
            UPDATE,
            {"monthlyCredits": None},
            {"monthly_credits": None},
            "VALIDATION_FAILED",
            "monthlyCredits",
        ),
        (UPDATE, {"maxParallel": 0}, {"max_parallel": 0}, "VALIDATION_FAILED", "maxParallel"),
    ],
)
async def test_bad_plans_are_refused_as_rest_refuses_them_and_nothing_changes(
    client: httpx.AsyncClient,
    admin_key: str,
    doc: str,
    variables: dict[str, Any],
    rest: dict[str, Any],
    code: str,
    field: str | None,
) -> None:
    member = await make_member(client, admin_key)
    before = await billing_state(client, admin_key, member)
    args = {"input": variables} | ({"ref": "pro"} if doc is UPDATE else {})
    found = await error(client, admin_key, doc, args, code=code)
    if field is not None:
        assert [e["path"] for e in found["extensions"]["details"]["errors"]] == [field]
        assert field in found["message"]
    if doc is UPDATE:
        response = await client.patch(f"{PLANS}/pro", headers=auth(admin_key), json=rest)
    else:
        body = {"name": variables["name"]} | rest
        response = await client.post(PLANS, headers=auth(admin_key), json=body)
    assert_error(response, found["extensions"]["status"], code)  # REST: same status and code
    assert await billing_state(client, admin_key, member) == before


@pytest.mark.parametrize("doc", [CREATE, UPDATE])
async def test_members_may_not_create_or_change_plans(
    client: httpx.AsyncClient, admin_key: str, doc: str
) -> None:
    member = await make_member(client, admin_key)
    reader = await make_member(client, admin_key, role="admin", scopes=["registry.read"])
    before = await billing_state(client, admin_key, member)
    variables: dict[str, Any] = (
        {"input": TEAM} if doc is CREATE else {"ref": "pro", "input": {"monthlyCredits": "1"}}
    )
    found = await error(client, member.key, doc, variables, code="FORBIDDEN")
    assert found["extensions"]["status"] == 403
    await error(client, reader.key, doc, variables, code="INSUFFICIENT_SCOPE")
    assert await billing_state(client, admin_key, member) == before


async def test_without_a_credential_nothing_runs(client: httpx.AsyncClient, admin_key: str) -> None:
    member = await make_member(client, admin_key)
    before = await billing_state(client, admin_key, member)
    for doc, variables in ((LIST, {"all": True}), (CREATE, {"input": TEAM})):
        response = await gql(client, None, doc, variables)
        assert response.status_code == 401
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await billing_state(client, admin_key, member) == before
