"""Random and hostile parameters on every endpoint of the authorization server: whatever
arrives, the answer is a 2xx, 3xx or 4xx, never a 500. Deterministic (a fixed seed)."""

from __future__ import annotations

import random
from urllib.parse import parse_qsl, quote_from_bytes, urlsplit

import httpx

from tests.api.oauth.flows import ISSUER, App, Browser, s256
from tests.api.web.conftest import Person

KEYS = [
    "response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "prompt",
    "code_challenge", "code_challenge_method", "grant_type", "code", "code_verifier",
    "refresh_token", "client_secret", "max_age", "response_mode", "decision", "csrf_token",
]  # fmt: skip
GOOD = {
    "response_type": ["code", "token", "code id_token", ""],
    "client_id": ["textassistant-desktop", "reporting", "nobody", ""],
    "redirect_uri": ["http://127.0.0.1:5/callback", "http://127.0.0.1/callback", "https://e/"],
    "scope": ["openid", "openid email llm.inference", "registry.write", "x y z"],
    "grant_type": ["authorization_code", "refresh_token", "client_credentials", "password"],
    "code_challenge_method": ["S256", "plain", "S512"],
    "code_challenge": [s256("v" * 50), "short"],
    "prompt": ["none", "consent", "login", "none consent"],
    "refresh_token": ["myrt_" + "a" * 43, "myrt_"],
    "decision": ["approve", "deny"],
}
NASTY = [b"", b"\x00", b"\xff\xfe", b"\xed\xa0\x80", b'"', b"\\", b"%", b"a" * 3000,
         "é🙂".encode(), b"\r\n", b"' OR 1=1 --", b"<script>", b"../../"]  # fmt: skip


def value(rng: random.Random, key: str) -> bytes:
    roll = rng.random()
    if roll < 0.5 and key in GOOD:
        return rng.choice(GOOD[key]).encode()
    if roll < 0.8:
        return rng.choice(NASTY)
    return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))


def encoded(rng: random.Random) -> str:
    pairs = []
    for _ in range(rng.randrange(0, 9)):
        key = rng.choice(KEYS)
        pairs.append(f"{key}={quote_from_bytes(value(rng, key))}")
        if rng.random() < 0.05:  # a repeated parameter
            pairs.append(f"{key}={quote_from_bytes(value(rng, key))}")
    return "&".join(pairs)


async def test_no_request_makes_a_500(
    desktop: App, service: App, browser: Browser, person: Person, oauth_client: httpx.AsyncClient
) -> None:
    await browser.visit(desktop.authorize_url("openid"), person)  # signed in: consent paths too
    rng = random.Random(14)
    form = {"Content-Type": "application/x-www-form-urlencoded", "Origin": ISSUER}
    for _ in range(120):
        query, body = encoded(rng), encoded(rng).encode()
        answers = [
            await oauth_client.get(f"/oauth/authorize?{query}"),
            await oauth_client.post(f"/oauth/authorize?{query}", content=body, headers=form),
            await oauth_client.post("/oauth/token", content=body, headers=form | service.auth()),
            await oauth_client.post("/oauth/token", content=body, headers=form),
            await oauth_client.get("/oauth/userinfo", headers={"Authorization": f"Bearer {query}"}),
        ]
        for answer in answers:
            assert answer.status_code < 500, (answer.request.url, body, answer.text)


def mutated(rng: random.Random, base: dict[str, str]) -> str:
    """``base`` (a valid request) with one or two parameters replaced by nasty values."""
    pairs = {k: v.encode() for k, v in base.items()}
    for _ in range(rng.randrange(1, 3)):
        key = rng.choice([*base, rng.choice(KEYS)])
        pairs[key] = rng.choice(NASTY) if rng.random() < 0.7 else value(rng, key)
    return "&".join(f"{k}={quote_from_bytes(v)}" for k, v in pairs.items())


async def test_valid_requests_with_one_bad_part_make_no_500(
    desktop: App, service: App, browser: Browser, person: Person, oauth_client: httpx.AsyncClient
) -> None:
    await browser.visit(desktop.authorize_url("openid"), person)
    rng = random.Random(8)
    authorize = dict(parse_qsl(urlsplit(desktop.authorize_url("openid email")).query))
    token = {"grant_type": "authorization_code", "code": "c" * 43,
             "client_id": "textassistant-desktop", "redirect_uri": desktop.redirect_uri,
             "code_verifier": "v" * 50}  # fmt: skip
    refresh = {"grant_type": "refresh_token", "refresh_token": "myrt_" + "r" * 43,
               "client_id": "textassistant-desktop", "scope": "openid"}  # fmt: skip
    credentials = {"grant_type": "client_credentials", "scope": "models.read"}
    form = {"Content-Type": "application/x-www-form-urlencoded", "Origin": ISSUER}
    for _ in range(60):
        answers = [
            await oauth_client.get(f"/oauth/authorize?{mutated(rng, authorize)}"),
            await oauth_client.post(
                f"/oauth/authorize?{mutated(rng, authorize)}",
                content=b"decision=approve&csrf_token=x",
                headers=form,
            ),
            await oauth_client.post("/oauth/token", content=mutated(rng, token), headers=form),
            await oauth_client.post("/oauth/token", content=mutated(rng, refresh), headers=form),
            await oauth_client.post(
                "/oauth/token", content=mutated(rng, credentials), headers=form | service.auth()
            ),
        ]
        for answer in answers:
            assert answer.status_code < 500, (answer.request.url, answer.text)
