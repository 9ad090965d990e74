"""`modelyard oauth clients` and `signing-keys`, and seed 003's client from `modelyard seed`."""

from __future__ import annotations

import orjson

from modelyard.registry.secrets import generate_key
from tests.cli.conftest import Cli


def test_client_lifecycle_with_a_secret_printed_once(ready: Cli) -> None:
    ready.ok("users", "add", "--email=svc@example.com")
    made = ready.ok(
        "oauth",
        "clients",
        "create",
        "--client-id=nightly-report",
        "--name=Nightly report",
        "--type=confidential",
        "--grant=client_credentials",
        "--scope=credits.read",
        "--service-user=svc@example.com",
    )
    secret = made.stdout.strip().splitlines()[-1]
    assert secret.startswith("mycs_")
    assert "shown this once" in made.stdout
    listed = ready.json("oauth", "clients", "list")
    assert [(c["client_id"], c["client_type"]) for c in listed] == [
        ("nightly-report", "confidential")
    ]
    assert secret not in ready.ok("oauth", "clients", "list").stdout

    rotated = ready.json("oauth", "clients", "rotate-secret", "nightly-report")
    assert rotated["client_secret"].startswith("mycs_")
    assert rotated["client_secret"] != secret

    changed = ready.json(
        "oauth", "clients", "update", "nightly-report", "--disable", "--scope=user.info"
    )
    assert (changed["enabled"], changed["scopes"]) == (False, ["user.info"])
    assert "nothing to change" in ready.fails("oauth", "clients", "update", "nightly-report")

    assert "aborted" in ready.fails("oauth", "clients", "delete", "nightly-report", input="n\n")
    assert ready.json("oauth", "clients", "delete", "nightly-report", "--yes")["client_id"] == (
        "nightly-report"
    )
    assert ready.json("oauth", "clients", "list") == []
    audit = ready.ok("audit", "list", "--json", "--limit=500").stdout
    assert secret not in audit
    assert rotated["client_secret"] not in audit
    ready.ok("audit", "verify")


def test_bad_clients_fail_with_one_clear_line(ready: Cli) -> None:
    base = ("oauth", "clients", "create", "--client-id=app", "--name=App", "--scope=openid")
    assert "redirect_uris" in ready.fails(
        *base, "--type=public", "--redirect-uri=http://app.example.com/cb"
    )
    assert "public client" in ready.fails(*base, "--type=public", "--grant=client_credentials")
    assert "(VALIDATION_FAILED)" in ready.fails(*base, "--type=trusted")
    assert "(OAUTH_CLIENT_NOT_FOUND)" in ready.fails("oauth", "clients", "rotate-secret", "nope")
    assert ready.json("oauth", "clients", "list") == []


def test_signing_keys_rotate_and_list(ready: Cli) -> None:
    assert ready.json("oauth", "signing-keys", "list") == []
    first = ready.json("oauth", "signing-keys", "rotate")
    second = ready.json("oauth", "signing-keys", "rotate")
    listed = ready.json("oauth", "signing-keys", "list")
    assert [(k["kid"], k["signing"]) for k in listed] == [
        (second["kid"], True),
        (first["kid"], False),
    ]
    assert first["kid"] in ready.ok("oauth", "signing-keys", "list").stdout


def test_seed_creates_the_desktop_client_once(ready: Cli) -> None:
    first = ready.json("seed")
    assert first["oauth_clients_created"] == ["textassistant-desktop"]
    [desktop] = ready.json("oauth", "clients", "list")
    assert desktop["client_type"] == "public"
    assert desktop["redirect_uris"] == ["http://127.0.0.1/callback"]
    assert desktop["grant_types"] == ["authorization_code", "refresh_token"]
    assert desktop["scopes"] == [  # sorted
        *("credits.read", "email", "llm.inference", "models.read"),
        *("openid", "profile", "user.info"),
    ]
    ready.ok("oauth", "clients", "update", "textassistant-desktop", "--name=Renamed")
    assert ready.json("seed")["oauth_clients_created"] == []
    assert ready.json("oauth", "clients", "list")[0]["name"] == "Renamed"


def test_doctor_opens_signing_keys_and_names_one_that_does_not_open(ready: Cli) -> None:
    kid = ready.json("oauth", "signing-keys", "rotate")["kid"]
    sealed = next(c for c in ready.json("doctor")["checks"] if c["name"] == "sealed secrets")
    assert sealed["detail"].startswith("1 open")

    other = {"MODELYARD_MASTER_KEY": generate_key()}
    result = ready("doctor", "--json", env=other)
    assert result.exit_code == 1
    checks = {c["name"]: c for c in orjson.loads(result.stdout)["checks"]}
    assert checks["sealed secrets"]["ok"] is False
    assert f"signing key {kid}" in checks["sealed secrets"]["detail"]
