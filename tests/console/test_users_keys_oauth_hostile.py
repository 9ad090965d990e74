"""Hostile requests to the users, API keys and OAuth clients pages, sent straight to the
server with a signed-in browser's cookie: no CSRF token (403), NUL characters (400),
garbage and foreign ids (404), huge numbers (422 beside the field), members at admin
pages (404); never a 500, nothing changed."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.console_site import Site

GARBAGE = ("nope", "00000000-0000-0000-0000-000000000000", "%00", "x" * 300)


def _session(tab: Page, site: Site, path: str) -> tuple[httpx.Client, str]:
    tab.goto(path)
    token = tab.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    cookies = {c["name"]: c["value"] for c in tab.context.cookies()}
    client = httpx.Client(
        base_url=site.base, cookies=cookies, headers={"Origin": site.base}, timeout=30
    )
    return client, token


@pytest.fixture
def as_admin(admin_page: Page, site: Site) -> Iterator[tuple[httpx.Client, str]]:
    client, token = _session(admin_page, site, "/console/keys/new")
    with client:
        yield client, token


@pytest.fixture
def as_member(member_page: Page, site: Site) -> Iterator[tuple[httpx.Client, str]]:
    client, token = _session(member_page, site, "/console/keys/new")
    with client:
        yield client, token


def _audit_count(site: Site) -> int:
    total: int = site.api("GET", "/api/v1/audit", params={"limit": 1}).json()["total"]
    return total


def test_admin_posts_without_token_or_with_nul_change_nothing(
    as_admin: tuple[httpx.Client, str], site: Site
) -> None:
    http, token = as_admin
    member = site.member.user_id
    before = _audit_count(site)
    posts = {
        "/console/users/new": {"email": "x@example.com"},
        f"/console/users/{member}/status": {"status": "suspended"},
        f"/console/users/{member}/edit": {"role": "admin"},
        f"/console/users/{member}/delete": {},
        f"/console/users/{member}/password": {"password": "a long new passphrase"},
        "/console/keys/new": {"name": "k", "scope": "llm.inference"},
        "/console/oauth-clients/new": {"client_id": "a", "name": "a"},
    }
    for path, data in posts.items():
        assert http.post(path, data=data | {"x": "1"}).status_code == 403, path
        nul = data | {"csrf_token": token, "name": "a\x00b", "email": "a\x00@example.com"}
        assert http.post(path, data=nul).status_code == 400, path
    assert _audit_count(site) == before


def test_garbage_ids_are_not_found(as_admin: tuple[httpx.Client, str], site: Site) -> None:
    http, token = as_admin
    for bad in GARBAGE:
        for path in (
            f"/console/users/{bad}",
            f"/console/keys?user_id={bad}",
            f"/console/keys/new?user_id={bad}",
            f"/console/oauth-clients/{bad}",
        ):
            assert http.get(path).status_code == 404, path
        for path in (
            f"/console/users/{bad}/edit",
            f"/console/users/{bad}/status",
            f"/console/users/{bad}/purge",
            f"/console/keys/{bad}/revoke",
            f"/console/oauth-clients/{bad}/rotate",
            f"/console/oauth-clients/{bad}/delete",
        ):
            assert http.post(path, data={"csrf_token": token}).status_code == 404, path


def test_huge_numbers_are_refused_beside_their_field(
    as_admin: tuple[httpx.Client, str], site: Site
) -> None:
    http, token = as_admin
    huge = "9" * 40
    made = http.post(
        "/console/users/new",
        data={"csrf_token": token, "email": "huge@example.com", "rpm_limit": huge},
    )
    assert made.status_code == 422
    assert 'id="error-rpm_limit"' in made.text
    key = http.post(
        "/console/keys/new",
        data={"csrf_token": token, "name": "huge", "scope": "llm.inference", "tpm_limit": huge},
    )
    assert key.status_code == 422
    assert 'id="error-tpm_limit"' in key.text
    far = http.post(
        "/console/keys/new",
        data={"csrf_token": token, "name": "far", "scope": "nonsense", "expires_on": "99999-1-1"},
    )
    assert far.status_code == 422
    assert 'id="error-expires_on"' in far.text
    assert 'id="error-scopes"' in far.text
    for query in ("offset=" + huge, "offset=-1", "role=root&status=gone", "email=%25", "email=%00"):
        assert http.get(f"/console/users?{query}").status_code == 200, query
        assert http.get(f"/console/keys?{query}").status_code == 200, query
    users = site.api("GET", "/api/v1/users", params={"limit": 500}).json()["items"]
    assert "huge@example.com" not in {u["email"] for u in users}


def test_the_new_key_page_is_not_cached(as_admin: tuple[httpx.Client, str], site: Site) -> None:
    http, token = as_admin
    made = http.post(
        "/console/keys/new", data={"csrf_token": token, "name": "once", "scope": "models.read"}
    )
    assert made.status_code == 200
    assert made.headers["cache-control"] == "no-store"
    assert "myk_" in made.text
    assert "myk_" not in str(made.url)


def test_members_reach_no_admin_page_and_no_one_elses_key(
    as_member: tuple[httpx.Client, str], site: Site
) -> None:
    http, token = as_member
    admin = site.admin.user_id
    for path in (
        "/console/users",
        f"/console/users/{admin}",
        "/console/oauth-clients",
        "/console/oauth-clients/new",
        f"/console/keys?user_id={admin}",
    ):
        assert http.get(path).status_code == 404, path
    for path in (
        "/console/users/new",
        f"/console/users/{admin}/status",
        f"/console/users/{site.member.user_id}/edit",
        "/console/oauth-clients/new",
    ):
        assert http.post(path, data={"csrf_token": token, "status": "suspended"}).status_code == 404
    # An owner's email from a member is ignored: the key is the member's own.
    made = http.post(
        "/console/keys/new",
        data={
            "csrf_token": token,
            "name": "mine",
            "owner": site.admin.email,
            "scope": "models.read",
        },
    )
    assert made.status_code == 200
    mine = site.api("GET", "/api/v1/keys", params={"user_id": site.member.user_id}).json()
    assert "mine" in {k["name"] for k in mine}


def test_own_password_needs_the_current_one(admin_page: Page, site: Site) -> None:
    tab = admin_page
    tab.goto(f"/console/users/{site.admin.user_id}")
    expect(tab.get_by_role("button", name="Suspend")).to_have_count(0)
    tab.get_by_label("Current password").fill("not my password at all")
    tab.get_by_label("New password").fill("a brand new passphrase 9")
    tab.get_by_role("button", name="Set password").click()
    expect(tab.locator("#error-current_password")).to_contain_text("wrong")
    tab.goto("/console/users")  # still signed in: nothing changed
    expect(tab.get_by_role("heading", level=1)).to_have_text("Users")
