"""The authorization-code flow with PKCE as a desktop app and its user's browser drive it:
sign-in, consent (remembered, denied), the loopback redirect on any port, the code's single
use, and the ID token verified against the JWKS."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from urllib.parse import unquote

from modelyard.db.types import utcnow
from modelyard.registry.actors import Actor
from modelyard.registry.oauth_clients import OAuthClientUpdate
from modelyard.services import Registry
from tests.api.oauth.flows import ISSUER, App, Browser, consent_form, query_of
from tests.api.web.browser import text
from tests.api.web.conftest import Person

SCOPE = "openid email profile llm.inference models.read"


async def test_desktop_app_signs_its_user_in(
    desktop: App, browser: Browser, person: Person
) -> None:
    scope = SCOPE + " offline_access"
    page = await browser.visit(desktop.authorize_url(scope), person)
    assert page.status_code == 200, page.text
    shown = text(page.text)
    assert "Allow TextAssistant" in shown
    assert "Stay signed in" in shown
    assert "Call models for you" in shown
    assert "See which models you may use" in shown
    assert f"Signed in as {person.email}" in shown
    answer = await browser.consent(page)
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith("http://127.0.0.1:53682/callback?")
    assert query_of(location)["iss"] == ISSUER  # RFC 9207
    tokens = await desktop.exchange(location)
    assert tokens.status_code == 200, tokens.text
    assert tokens.headers["cache-control"] == "no-store"
    body = tokens.json()
    assert body["token_type"] == "Bearer"
    assert body["access_token"].startswith("myat_")
    assert body["refresh_token"].startswith("myrt_")
    assert body["expires_in"] == 3600
    assert body["scope"].split() == scope.split()
    claims = await desktop.verify_id_token(body["id_token"])
    assert claims["sub"] == person.id
    assert claims["nonce"] == desktop.last.nonce  # type: ignore[union-attr]
    assert claims["email"] == person.email
    assert isinstance(claims["auth_time"], int)
    assert claims["at_hash"]
    assert claims["iss"] == ISSUER


async def _signed_in_code(
    desktop: App, browser: Browser, person: Person, scope: str = SCOPE
) -> str:
    page = await browser.visit(desktop.authorize_url(scope), person)
    answer = page if page.status_code == 302 else await browser.consent(page)
    assert answer.status_code == 302, answer.text
    return str(answer.headers["location"])


async def test_consent_is_remembered_until_more_is_asked(
    desktop: App, browser: Browser, person: Person
) -> None:
    await _signed_in_code(desktop, browser, person, "openid llm.inference")
    again = await browser.visit(desktop.authorize_url("openid llm.inference"), person)
    assert again.status_code == 302  # no page: straight back to the app with a code
    assert "code" in query_of(again.headers["location"])
    assert (await desktop.exchange(again.headers["location"])).status_code == 200
    fewer = await browser.visit(desktop.authorize_url("llm.inference"), person)
    assert fewer.status_code == 302
    more = await browser.visit(desktop.authorize_url("openid llm.inference credits.read"), person)
    assert more.status_code == 200
    assert "See your credit balance and ledger" in text(more.text)
    forced = await browser.visit(desktop.authorize_url("llm.inference", prompt="consent"), person)
    assert forced.status_code == 200
    assert "Allow TextAssistant" in text(forced.text)


async def test_denying_sends_the_app_access_denied(
    desktop: App, browser: Browser, person: Person
) -> None:
    page = await browser.visit(desktop.authorize_url(SCOPE), person)
    answer = await browser.consent(page, "deny")
    assert answer.status_code == 302
    back = query_of(answer.headers["location"])
    assert back["error"] == "access_denied"
    assert back["iss"] == ISSUER
    assert back["state"] == desktop.last.state  # type: ignore[union-attr]
    assert "code" not in back
    again = await browser.visit(desktop.authorize_url(SCOPE), person)
    assert again.status_code == 200  # nothing was remembered


async def test_loopback_redirect_takes_any_port_but_nothing_else(
    desktop: App, browser: Browser, person: Person
) -> None:
    for uri in ("http://127.0.0.1:1/callback", "http://127.0.0.1/callback"):
        desktop.redirect_uri = uri
        location = await _signed_in_code(desktop, browser, person)
        assert location.startswith(uri + "?")
        assert (await desktop.exchange(location)).status_code == 200
    for uri in (
        "http://127.0.0.1:8080/other",
        "http://localhost:8080/callback",
        "http://127.0.0.1.evil.example/callback",
        "https://127.0.0.1/callback",
    ):
        desktop.redirect_uri = uri
        page = await browser.visit(desktop.authorize_url(SCOPE), person)
        assert page.status_code == 400, uri  # an error page: never a redirect there
        assert page.headers["content-type"].startswith("text/html")
        assert "cannot be served" in text(page.text)


async def test_a_code_works_once_and_only_with_its_verifier(
    desktop: App, browser: Browser, person: Person
) -> None:
    location = await _signed_in_code(desktop, browser, person)
    first = await desktop.exchange(location)
    assert first.status_code == 200
    token = first.json()["access_token"]
    userinfo = {"Authorization": f"Bearer {token}"}
    assert (await desktop.http.get("/oauth/userinfo", headers=userinfo)).status_code == 200
    replay = await desktop.exchange(location)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    # a replayed code means it leaked: what it was exchanged for is revoked (RFC 6749 4.1.2)
    assert (await desktop.http.get("/oauth/userinfo", headers=userinfo)).status_code == 401
    assert (await desktop.refresh(first.json()["refresh_token"])).status_code == 400
    location = await _signed_in_code(desktop, browser, person)
    wrong = await desktop.exchange(location, code_verifier="x" * 50)
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    after = await desktop.exchange(location)  # the failed attempt used it up
    assert after.status_code == 400
    assert after.json()["error"] == "invalid_grant"
    location = await _signed_in_code(desktop, browser, person)
    missing = await desktop.exchange(location, code_verifier="")
    assert missing.status_code == 400
    location = await _signed_in_code(desktop, browser, person)
    elsewhere = await desktop.exchange(location, redirect_uri="http://127.0.0.1:9/callback")
    assert elsewhere.status_code == 400
    assert elsewhere.json()["error"] == "invalid_grant"


async def test_public_clients_must_use_s256(desktop: App, browser: Browser, person: Person) -> None:
    for extra in ({"code_challenge": "", "code_challenge_method": ""},
                  {"code_challenge_method": "plain"}):  # fmt: skip
        answer = await browser.visit(desktop.authorize_url(SCOPE, **extra), person)
        assert answer.status_code == 302, answer.text
        back = query_of(answer.headers["location"])
        assert back["error"] == "invalid_request", back
        assert "S256" in back["error_description"]
        assert back["state"] == desktop.last.state  # type: ignore[union-attr]


async def test_requests_that_cannot_be_trusted_get_an_error_page(
    desktop: App, browser: Browser, person: Person
) -> None:
    bad = [
        "/oauth/authorize?response_type=code&client_id=nobody&redirect_uri=https://evil.example/",
        "/oauth/authorize?response_type=code",
        "/oauth/authorize?response_type=code&client_id=textassistant-desktop"
        "&redirect_uri=https://evil.example/cb",
        "/oauth/authorize?response_type=code&client_id=" + "x" * 5000,
        "/oauth/authorize?response_type=code&client_id=%00",
        "/oauth/authorize?response_type=code&client_id=%ff%fe&redirect_uri=%ed%a0%80",
        "/oauth/authorize?response_type=code&client_id=textassistant-desktop&scope=%ed%a0%80"
        "&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcallback%ff",
        '/oauth/authorize?response_type=code&client_id=textassistant-desktop&redirect_uri=https://e/"',
        "/oauth/authorize?response_type=co%5Cde&client_id=textassistant-desktop",
    ]
    for url in bad:
        page = await browser.visit(url, person)
        assert page.status_code == 400, (url, page.text)
        assert "location" not in page.headers
    twice = await browser.visit(desktop.authorize_url(SCOPE) + "&scope=registry.write", person)
    assert twice.status_code == 400  # a repeated parameter: an error page
    huge_state = await browser.visit(desktop.authorize_url(SCOPE, state="s" * 3000), person)
    assert huge_state.status_code in (200, 302, 400)
    wrong_type = await browser.visit(desktop.authorize_url(SCOPE, response_type="token"), person)
    assert wrong_type.status_code == 302
    assert query_of(wrong_type.headers["location"])["error"] == "unsupported_response_type"
    long_nonce = await browser.visit(desktop.authorize_url(SCOPE, nonce="n" * 256), person)
    assert "255" in query_of(long_nonce.headers["location"])["error_description"]
    unknown_scope = await browser.visit(desktop.authorize_url("openid registry.write"), person)
    assert query_of(unknown_scope.headers["location"])["error"] == "invalid_scope"


async def test_prompt_none_never_shows_a_page(
    desktop: App, browser: Browser, person: Person
) -> None:
    answer = await browser.visit(desktop.authorize_url(SCOPE, prompt="none"))
    assert query_of(answer.headers["location"])["error"] == "login_required"
    page = await browser.visit(desktop.authorize_url("openid", prompt="login"), person)
    assert page.status_code == 200  # signed in now, consent page
    answer = await browser.visit(desktop.authorize_url(SCOPE, prompt="none"))
    assert query_of(answer.headers["location"])["error"] == "consent_required"
    await browser.consent(await browser.visit(desktop.authorize_url(SCOPE), person))
    await asyncio.sleep(1.1)  # max_age is in whole seconds
    stale = await browser.visit(desktop.authorize_url(SCOPE, prompt="none", max_age="0"))
    assert stale.status_code == 302  # back to the app, never the sign-in page
    assert query_of(stale.headers["location"])["error"] == "login_required"


async def test_consent_form_needs_its_csrf_token_and_origin(
    desktop: App, browser: Browser, person: Person
) -> None:
    page = await browser.visit(desktop.authorize_url(SCOPE), person)
    action, fields = consent_form(page.text)
    client = browser.client
    forged = await client.post(action, data={"decision": "approve"}, headers={"Origin": ISSUER})
    assert forged.status_code == 403
    cross = await client.post(
        action, data=fields | {"decision": "approve"}, headers={"Origin": "https://evil.example"}
    )
    assert cross.status_code == 403
    nonsense = await client.post(
        action, data=fields | {"decision": "maybe"}, headers={"Origin": ISSUER}
    )
    assert nonsense.status_code == 400
    again = await browser.visit(desktop.authorize_url(SCOPE), person)
    assert again.status_code == 200  # no consent was stored by any of them


async def test_a_trusted_app_skips_consent_but_is_listed_as_connected(
    desktop: App, browser: Browser, person: Person, registry: Registry, admin: Actor
) -> None:
    await registry.oauth_clients.update(
        admin, "textassistant-desktop", OAuthClientUpdate(skip_consent=True)
    )
    answer = await browser.visit(desktop.authorize_url(SCOPE), person)
    assert answer.status_code == 302
    assert (await desktop.exchange(answer.headers["location"])).status_code == 200
    apps = await browser.get("/account/apps")
    assert "TextAssistant" in text(apps.text)


async def test_a_code_is_refused_once_the_user_disconnects_the_app(
    desktop: App, browser: Browser, person: Person, registry: Registry
) -> None:
    location = await _signed_in_code(desktop, browser, person)
    user = Actor.user(uuid.UUID(person.id), "member", person.email, frozenset())
    await registry.connected_apps.revoke(user, "textassistant-desktop")
    late = await desktop.exchange(location)
    assert late.status_code == 400
    assert late.json()["error"] == "invalid_grant"


async def test_a_confidential_client_authenticates_its_code_exchange(
    service: App, browser: Browser, person: Person
) -> None:
    async def code() -> str:
        url = service.authorize_url("openid email", code_challenge="", code_challenge_method="")
        page = await browser.visit(url, person)  # PKCE is optional for a confidential client
        answer = page if page.status_code == 302 else await browser.consent(page)
        assert answer.status_code == 302, answer.text
        return query_of(answer.headers["location"])["code"]

    form = {"grant_type": "authorization_code", "redirect_uri": service.redirect_uri}
    basic = await service.token(**form, code=await code())
    assert basic.status_code == 200, basic.text
    assert "id_token" in basic.json()
    assert service.secret is not None
    posted = await service.http.post(
        "/oauth/token",
        data=form
        | {"code": await code(), "client_id": "reporting", "client_secret": service.secret},
    )
    assert posted.status_code == 200, posted.text
    bare = await service.http.post(
        "/oauth/token", data=form | {"code": await code(), "client_id": "reporting"}
    )
    assert bare.status_code in (400, 401)
    assert bare.json()["error"] == "invalid_client"


async def test_prompt_login_and_max_age_ask_to_sign_in_again(
    desktop: App, browser: Browser, person: Person, registry: Registry
) -> None:
    first = await desktop.exchange(await _signed_in_code(desktop, browser, person))
    before = (await desktop.verify_id_token(first.json()["id_token"]))["auth_time"]
    old_cookie = dict(browser.client.cookies)
    await asyncio.sleep(1.1)  # auth_time is in whole seconds
    again = await browser.client.get(desktop.authorize_url(SCOPE, prompt="login"))
    assert again.status_code == 303
    target = unquote(again.headers["location"])
    assert target.startswith("/login?next=/oauth/authorize?")
    assert "prompt" not in target  # the sign-in about to happen is the one asked for
    # nothing ended on a GET: a link from another site cannot sign the browser out
    assert (await browser.client.get("/account/apps")).status_code == 200
    page = await browser.client.get(again.headers["location"])
    assert page.status_code == 200, page.text  # the sign-in form, though signed in
    answer = await browser.submit(
        page, "/login", {"email": person.email, "password": person.password}
    )
    assert answer.status_code == 303
    code = await browser.visit(answer.headers["location"], person)
    assert code.status_code == 302, code.text
    later = await desktop.exchange(code.headers["location"])
    after = (await desktop.verify_id_token(later.json()["id_token"]))["auth_time"]
    assert after > before
    for odd in ("²", "-1", "1e3", "9" * 40):  # not a count of seconds: ignored
        ignored = await browser.visit(desktop.authorize_url(SCOPE, max_age=odd), person)
        assert ignored.status_code == 302, odd
    fresh = await browser.visit(desktop.authorize_url(SCOPE, max_age="600"), person)
    assert fresh.status_code == 302  # signed in recently enough: straight back with a code
    registry.db.clock = lambda: utcnow() + timedelta(seconds=120)
    stale = await browser.client.get(desktop.authorize_url(SCOPE, max_age="60"))
    assert stale.status_code == 303
    assert stale.headers["location"].startswith("/login?next=")
    # the session the new sign-in replaced is over: its cookie opens nothing
    browser.client.cookies.clear()
    browser.client.cookies.update(old_cookie)
    assert (await browser.client.get("/account/apps")).status_code == 303
