"""An audit event's diff as the console shows it (no browser): changed fields only, named
by their JSON path, additions and removals, secrets masked at any depth but still shown as
changed, and the documents in full masked too."""

from __future__ import annotations

from modelyard.api.web.console.audit_diff import MASK, ROOT, Change, changes, document, masked


def test_only_what_changed_by_its_path() -> None:
    before = {"name": "a", "config": {"headers": {"x": "1", "y": "2"}, "timeout": 5}}
    after = {"name": "a", "config": {"headers": {"x": "3", "y": "2"}, "timeout": 5}}
    assert changes(before, after) == [Change("config.headers.x", "changed", "1", "3")]


def test_added_and_removed_keys() -> None:
    before = {"keep": 1, "gone": {"deep": True}}
    after = {"keep": 1, "new": [1, 2], "empty": {}}
    assert changes(before, after) == [
        Change("gone.deep", "removed", "true", ""),
        Change("new", "added", "", "[1, 2]"),
        Change("empty", "added", "", "{}"),
    ]


def test_created_and_deleted_entities() -> None:
    assert changes(None, {"a": "x"}) == [Change("a", "added", "", "x")]
    assert changes({"a": "x"}, None) == [Change("a", "removed", "x", "")]
    assert changes(None, None) == []


def test_a_whole_value_that_is_not_an_object() -> None:
    assert changes("serve", "refuse") == [Change(ROOT, "changed", "serve", "refuse")]
    assert changes(None, False) == [Change(ROOT, "added", "", "false")]


def test_types_matter() -> None:
    assert changes({"a": 1}, {"a": True}) == [Change("a", "changed", "1", "true")]
    assert changes({"a": 1}, {"a": 1.0}) == [Change("a", "changed", "1", "1.0")]


def test_secrets_are_masked_but_still_seen_to_change() -> None:
    before = {"api_key": "sk-...AAAA", "has_api_key": True, "config": {"Client-Secret": "s1"}}
    after = {"api_key": "sk-...BBBB", "has_api_key": True, "config": {"Client-Secret": "s2"}}
    assert changes(before, after) == [
        Change("api_key", "changed", MASK, MASK),
        Change("config.Client-Secret", "changed", MASK, MASK),
    ]


def test_what_looks_secret() -> None:
    value = {
        "password": "p",
        "x_api_key": "k",
        "auth": {"Authorization": "Bearer t", "refresh_token": "r", "credentials": {"u": "v"}},
        "token_endpoint_auth_method": "client_secret_basic",
        "note": "key myk_abcdefghijklmnopqrstuvwxyz0123 pasted",
        "has_password": False,
        "secret_hint": None,
    }
    assert masked(value) == {
        "password": MASK,
        "x_api_key": MASK,
        "auth": {"Authorization": MASK, "refresh_token": MASK, "credentials": {"u": MASK}},
        "token_endpoint_auth_method": "client_secret_basic",
        "note": f"key {MASK} pasted",
        "has_password": False,
        "secret_hint": None,
    }


def test_documents_in_full_are_masked() -> None:
    text = document({"name": "p", "api_key": "sk-...ABCD", "list": [{"token": "t0ken"}]})
    assert "ABCD" not in text
    assert "t0ken" not in text
    assert '"name": "p"' in text
    assert document(None) == "null"
