"""`modelyard models`, `prices` and `settings`: the catalog, its price history, defaults."""

from __future__ import annotations

from tests.cli.conftest import Cli

JAN = "2030-01-01T00:00:00Z"
MAR = "2030-03-01T00:00:00Z"


def test_models_are_addressed_by_provider_and_model_id(ready: Cli) -> None:
    ready.ok("providers", "add", "--name=openai", "--kind=ollama")
    added = ready.json(
        "models",
        "add",
        "--provider=openai",
        "--model-id=gpt-4o",
        "--context-window=128000",
        "--capability=text",
        "--capability=vision",
        "--input-price=2.50",
        "--output-price=10",
        "--credits-per-1k=3",
    )
    assert added["capabilities"] == ["text", "vision"]
    assert added["price"]["input_per_mtok"] == "2.5"
    assert ready.json("models", "show", "openai/gpt-4o") == added
    assert ready.json("models", "show", added["id"]) == added
    listing = ready.ok("models", "list").stdout
    assert "openai/gpt-4o" in listing
    assert "2.5 / 10 USD" in listing
    assert ready.json("models", "list", "--provider=openai", "--capability=vision")["total"] == 1
    assert ready.json("models", "list", "--status=DEPRECATED")["total"] == 0
    updated = ready.json("models", "update", "openai/gpt-4o", "--display-name=GPT-4o")
    assert updated["display_name"] == "GPT-4o"


def test_model_lifecycle_and_the_default(ready: Cli) -> None:
    ready.ok("providers", "add", "--name=openai", "--kind=ollama")
    ready.ok("models", "add", "--provider=openai", "--model-id=a")
    ready.ok("models", "add", "--provider=openai", "--model-id=b")
    assert ready.json("models", "set-default", "openai/a")["is_default"] is True
    assert ready.json("models", "set-default", "openai/b")["is_default"] is True
    assert ready.json("models", "show", "openai/a")["is_default"] is False
    deprecated = ready.json("models", "deprecate", "openai/b")
    assert (deprecated["status"], deprecated["is_default"]) == ("DEPRECATED", False)
    assert "(MODEL_DEPRECATED)" in ready.fails("models", "set-default", "openai/b")
    assert "(MODEL_STATUS_UNCHANGED)" in ready.fails("models", "deprecate", "openai/b")
    assert ready.json("models", "reactivate", "openai/b")["status"] == "ACTIVE"
    ready.ok("models", "delete", "openai/a", "--yes")
    assert [m["model_id"] for m in ready.json("models", "list")["items"]] == ["b"]


def test_prices_append_and_answer_for_any_moment(ready: Cli) -> None:
    ready.ok("providers", "add", "--name=openai", "--kind=ollama")
    ready.ok("models", "add", "--provider=openai", "--model-id=gpt-4o")
    ref = "openai/gpt-4o"
    ready.ok("prices", "set", ref, "--input=2.50", "--output=10", f"--effective-from={JAN}")
    later = ready.json(
        "prices",
        "set",
        ref,
        "--input=1.25",
        "--output=5",
        "--cached-input=0.5",
        "--cache-write=1.5625",
        "--currency=EUR",
        f"--effective-from={MAR}",
    )
    assert (later["input_per_mtok"], later["currency"]) == ("1.25", "EUR")
    assert (later["cached_input_per_mtok"], later["cache_write_per_mtok"]) == ("0.5", "1.5625")
    history = ready.json("prices", "list", ref)
    assert [p["input_per_mtok"] for p in history] == ["2.5", "1.25"]
    assert ready.json("prices", "at", ref, "--at=2030-02-01T00:00:00Z")["input_per_mtok"] == "2.5"
    assert ready.json("prices", "at", ref, "--at=2031-01-01T00:00:00+02:00")["currency"] == "EUR"
    assert "(PRICE_NOT_FOUND)" in ready.fails("prices", "at", ref, "--at=2029-01-01T00:00:00Z")
    assert "(PRICE_EXISTS)" in ready.fails(
        "prices", "set", ref, "--input=1", "--output=1", f"--effective-from={JAN}"
    )
    listed = ready.ok("prices", "list", ref).stdout
    assert "1.25" in listed
    assert "cache write" in listed
    assert "1.5625" in listed


def test_settings_set_get_unset(ready: Cli) -> None:
    keys = {s["key"]: s for s in ready.json("settings", "list")}
    assert keys["models.deprecated_policy"]["value"] == "warn"
    changed = ready.json("settings", "set", "models.deprecated_policy", '"reject"')
    assert (changed["value"], changed["is_set"]) == ("reject", True)
    assert ready.json("settings", "get", "models.deprecated_policy")["value"] == "reject"
    retry = ready.json("settings", "set", "gateway.retry", '{"max_attempts": 2}')
    assert retry["value"]["max_attempts"] == 2
    ready.ok("settings", "set", "custom.team", '{"name": "ml"}')
    assert ready.json("settings", "get", "custom.team")["value"] == {"name": "ml"}
    assert ready.json("settings", "unset", "custom.team")["is_set"] is False
    assert "(SETTING_NOT_SET)" in ready.fails("settings", "unset", "custom.team")
    assert "no system model 'openai/none'" in ready.fails(
        "settings", "set", "defaults.chat_model", '"openai/none"'
    )
    assert "gateway.retry" in ready.ok("settings", "list").stdout
