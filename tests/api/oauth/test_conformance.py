"""What a client developer reads off the wire, held to the RFCs: RFC 6750's bearer
challenges on the userinfo endpoint, RFC 6749's error codes on the token endpoint."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from tests.api.oauth.flows import ISSUER, App, Browser, query_of
from tests.api.web.conftest import Person

RFC6750_ERRORS = {"invalid_request", "invalid_token", "insufficient_scope"}


async def _tokens(desktop: App, browser: Browser, person: Person, scope: str) -> Any:
    page = await browser.visit(desktop.authorize_url(scope), person)
    answer = page if page.status_code == 302 else await browser.consent(page)
    tokens = await desktop.exchange(answer.headers["location"])
    assert tokens.status_code == 200, tokens.text
    return tokens.json()


async def test_userinfo_without_a_bearer_token_is_challenged_without_an_error_code(
    desktop: App,
) -> None:
    """RFC 6750 3.1: a request with no bearer credentials gets ``WWW-Authenticate: Bearer``
    and no error code (Authlib said ``missing_authorization`` / ``unsupported_token_type``,
    codes no client knows)."""
    for headers in ({}, {"Authorization": "Basic eA=="}, {"Authorization": "Bearer"}):
        for method in ("GET", "POST"):
            answer = await desktop.http.request(method, "/oauth/userinfo", headers=headers)
            assert answer.status_code == 401, (headers, answer.text)
            challenge = answer.headers["www-authenticate"]
            assert challenge.startswith("Bearer"), challenge
            assert "error=" not in challenge, challenge
            assert answer.json()["error"] in RFC6750_ERRORS, answer.text
            assert answer.headers["cache-control"] == "no-store"


async def test_userinfo_names_the_scope_a_token_lacks_in_its_challenge(
    desktop: App, browser: Browser, person: Person
) -> None:
    """RFC 6750 3: a token that does not enable access gets the WWW-Authenticate header,
    ``insufficient_scope`` naming ``openid``, as every other modelyard endpoint says it."""
    tokens = await _tokens(desktop, browser, person, "models.read")
    answer = await desktop.http.get(
        "/oauth/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert answer.status_code == 403
    assert answer.json()["error"] == "insufficient_scope"
    challenge = answer.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="openid"' in challenge


async def test_a_token_request_without_grant_type_is_invalid_request(desktop: App) -> None:
    """RFC 6749 5.2: a missing required parameter is ``invalid_request``;
    ``unsupported_grant_type`` is for a grant type named but not served."""
    for form in ({}, {"grant_type": ""}, {"client_id": desktop.client_id, "code": "x"}):
        answer = await desktop.http.post("/oauth/token", data=form)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == "invalid_request", (form, answer.text)
        assert "grant_type" in answer.json()["error_description"]
        assert answer.headers["cache-control"] == "no-store"
    unknown = await desktop.http.post("/oauth/token", data={"grant_type": "password"})
    assert unknown.json()["error"] == "unsupported_grant_type"


async def test_failed_client_authentication_is_a_basic_challenge_with_a_realm(
    service: App, desktop: App
) -> None:
    """RFC 6749 5.2: 401 invalid_client with ``WWW-Authenticate`` for the scheme the
    client used; RFC 7617 makes ``realm`` required in a Basic challenge. The description
    says what to fix, not Authlib's list of method names."""
    wrong = App(service.http, service.client_id, service.redirect_uri, secret="mycs_wrong")
    for answer in (
        await wrong.token(grant_type="client_credentials"),
        await service.http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "client_id": "reporting"},
        ),
    ):
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"] == "invalid_client"
        assert "[" not in answer.json()["error_description"]
        challenge = answer.headers["www-authenticate"]
        assert challenge.startswith("Basic realm=")
        assert 'error="invalid_client"' in challenge
        assert answer.headers["cache-control"] == "no-store"


async def test_prompt_none_without_openid_never_shows_the_sign_in_page(
    desktop: App, browser: Browser
) -> None:
    """``prompt=none`` from a browser that is not signed in answers ``login_required``
    to the app whatever the scopes (it did only with ``openid``; without it the hidden
    frame of a silent sign-in got the sign-in page)."""
    answer = await browser.client.get(desktop.authorize_url("models.read", prompt="none"))
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(desktop.redirect_uri + "?")
    assert query_of(location)["error"] == "login_required"
    assert desktop.last is not None
    assert query_of(location)["state"] == desktop.last.state
    assert query_of(location)["iss"] == ISSUER


async def test_an_authorization_request_may_be_posted_as_a_form(
    desktop: App, browser: Browser, person: Person
) -> None:
    """OpenID Connect Core 3.1.2.1: the authorization endpoint supports GET and POST; a
    form-posted request is the same request as its GET (it was read as an empty query)."""
    url = desktop.authorize_url("openid email")
    params = query_of(url)
    posted = await browser.client.post("/oauth/authorize", data=params)
    assert posted.status_code == 303, posted.text
    location = posted.headers["location"]
    assert location.startswith("/oauth/authorize?")
    assert query_of(location) == params
    page = await browser.visit(location, person)
    answer = page if page.status_code == 302 else await browser.consent(page)
    tokens = await desktop.exchange(answer.headers["location"])
    assert tokens.status_code == 200, tokens.text
    assert "id_token" in tokens.json()


async def test_a_repeated_parameter_is_invalid_request(
    desktop: App, browser: Browser, person: Person
) -> None:
    """RFC 6749 3.1 and 3.2: parameters must not be sent more than once. A repeated one
    was read as its first value in one place and its last in another; it is now refused
    before anything is read (so the code is still good for a proper exchange)."""
    page = await browser.visit(desktop.authorize_url("openid"), person)
    answer = page if page.status_code == 302 else await browser.consent(page)
    assert desktop.last is not None
    code = query_of(answer.headers["location"])["code"]
    form = [
        ("grant_type", "authorization_code"),
        ("client_id", desktop.client_id),
        ("redirect_uri", desktop.redirect_uri),
        ("code", code),
        ("code_verifier", desktop.last.verifier),
    ]
    for repeated in (("code", "other"), ("code_verifier", "a" * 43), ("grant_type", "x")):
        refused = await desktop.http.post(
            "/oauth/token",
            content=urlencode([*form, repeated]),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"] == "invalid_request"
        assert repeated[0] in refused.json()["error_description"]
    assert (await desktop.token(**dict(form))).status_code == 200
    twice = desktop.authorize_url("openid") + "&scope=email"
    assert (await browser.client.get(twice)).status_code == 400


async def test_discovery_does_not_claim_request_objects_by_omission(desktop: App) -> None:
    """OpenID Connect Discovery: ``request_uri_parameter_supported`` omitted means true.
    modelyard reads neither ``request`` nor ``request_uri`` (nor ``claims``), so the
    document says so; every endpoint it names answers."""
    config = (await desktop.http.get("/.well-known/openid-configuration")).json()
    assert config["request_uri_parameter_supported"] is False
    assert config["request_parameter_supported"] is False
    assert config["claims_parameter_supported"] is False
    for key, value in config.items():
        if key.endswith("_endpoint") or key == "jwks_uri":
            path = value.removeprefix(ISSUER)
            answer = await desktop.http.get(path)
            assert answer.status_code != 404, (key, value)


async def test_a_refused_refresh_token_says_why(
    desktop: App, browser: Browser, person: Person
) -> None:
    """invalid_grant for a refresh token tells the developer what to do (it was a bare
    code: a reused token looked like a typo)."""
    tokens = await _tokens(desktop, browser, person, "openid")
    assert (await desktop.refresh(tokens["refresh_token"])).status_code == 200
    for token in (tokens["refresh_token"], "myrt_unknown"):
        refused = await desktop.refresh(token)
        assert refused.status_code == 400
        assert refused.json()["error"] == "invalid_grant"
        assert "sign in again" in refused.json()["error_description"]


async def test_an_unsupported_response_type_is_described_plainly(
    desktop: App, browser: Browser
) -> None:
    """Authlib swapped its arguments: the app read ``error_description=token`` and the
    error page "response_type=The response type 'None' is not supported ... is not
    supported"."""
    for response_type in ("token", ""):
        answer = await browser.client.get(
            desktop.authorize_url("openid", response_type=response_type)
        )
        assert answer.status_code == 302, answer.text
        assert desktop.last is not None
        refused = query_of(answer.headers["location"])
        assert refused["error"] == "unsupported_response_type"
        assert refused["error_description"] == "Only response_type=code is supported."
        assert refused["state"] == desktop.last.state
