"""`modelyard users` and `keys`: accounts, soft delete, purge, and keys shown once."""

from __future__ import annotations

from modelyard.registry.scopes import SCOPES
from tests.cli.conftest import ADMIN_EMAIL, Cli


def test_user_lifecycle(ready: Cli) -> None:
    added = ready.json("users", "add", "--email=Bob@Example.com", "--display-name=Bob")
    assert (added["role"], added["email_verified"]) == ("member", False)
    assert "(EMAIL_TAKEN)" in ready.fails("users", "add", "--email=bob@example.com")
    emails = [u["email"] for u in ready.json("users", "list")["items"]]
    assert emails == [ADMIN_EMAIL, "Bob@Example.com"]
    promoted = ready.json("users", "update", "bob@example.com", "--role=admin", "--verified")
    assert (promoted["role"], promoted["email_verified"]) == ("admin", True)
    assert ready.json("users", "delete", added["id"])["deleted_at"] is not None
    assert ready.json("users", "list", "--deleted")["total"] == 1
    assert "(USER_DELETED)" in ready.fails("users", "delete", "bob@example.com")
    assert ready.json("users", "restore", "bob@example.com")["deleted_at"] is None
    assert "Bob@Example.com" in ready.ok("users", "list").stdout


def test_purge_asks_for_confirmation_unless_yes(ready: Cli) -> None:
    ready.ok("users", "add", "--email=bob@example.com")
    assert "aborted" in ready.fails("users", "purge", "bob@example.com", input="n\n")
    assert ready.json("users", "list")["total"] == 2
    ready.ok("users", "purge", "bob@example.com", input="y\n")
    assert ready.json("users", "list")["total"] == 1
    ready.ok("users", "add", "--email=carol@example.com")
    assert ready.json("users", "purge", "carol@example.com", "--yes")["purged"]
    assert "(USER_NOT_FOUND)" in ready.fails("users", "purge", "carol@example.com", "--yes")


def test_the_last_admin_stays(ready: Cli) -> None:
    assert "(LAST_ADMIN)" in ready.fails("users", "update", ADMIN_EMAIL, "--role=member")


def test_keys_are_shown_once_and_revoked(ready: Cli) -> None:
    ready.ok("users", "add", "--email=bob@example.com")
    created = ready.ok(
        "keys",
        "create",
        "--user=bob@example.com",
        "--name=ci",
        "--scope=llm.inference",
        "--expires=2099-01-01T00:00:00Z",
    )
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("myk_")
    keys = ready.json("keys", "list", "--user=bob@example.com")
    assert [(k["name"], k["scopes"]) for k in keys] == [("ci", ["llm.inference"])]
    assert token.startswith(keys[0]["prefix"])
    assert len(ready.json("keys", "list")) == 2  # the admin's bootstrap key and this one
    for args in (("keys", "list"), ("keys", "list", "--json"), ("audit", "list", "--json")):
        assert token not in ready.ok(*args).output
    revoked = ready.json("keys", "revoke", keys[0]["id"])
    assert revoked["revoked_at"] is not None
    assert "(KEY_REVOKED)" in ready.fails("keys", "revoke", keys[0]["id"])
    as_json = ready.json("keys", "create", "--user=bob@example.com", "--name=two")
    assert as_json["key"].startswith(as_json["api_key"]["prefix"])
    assert "must be in the future" in ready.fails(
        "keys", "create", "--user=bob@example.com", "--name=old", "--expires=2000-01-01T00:00Z"
    )


def test_a_members_new_key_calls_and_lists_models_unless_asked(ready: Cli) -> None:
    ready.ok("users", "add", "--email=bob@example.com")
    ready.ok("users", "add", "--email=ops@example.com", "--role=admin")

    def scopes(*args: str) -> list[str]:
        created = ready.json("keys", "create", "--name=k", *args)
        return list(created["api_key"]["scopes"])

    assert scopes("--user=bob@example.com") == ["llm.inference", "models.read"]
    assert sorted(scopes("--user=ops@example.com")) == sorted(SCOPES)
    asked = ("--user=bob@example.com", "--scope=registry.write", "--scope=credits.read")
    assert scopes(*asked) == ["credits.read", "registry.write"]
    old = ("--user=bob@example.com", "--scope=registry:write", "--scope=inference")  # < 0.2
    assert scopes(*old) == ["llm.inference", "models.read", "registry.write"]
    refused = ready.fails("keys", "create", "--user=bob@example.com", "--name=x", "--scope=root")
    assert "unknown scopes ['root']" in refused
    assert len(ready.json("keys", "list", "--user=bob@example.com")) == 3
