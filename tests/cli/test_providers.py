"""`modelyard providers`: round trips, the masked key, and the active/default rules."""

from __future__ import annotations

import pytest

from tests.cli.conftest import Cli, sealed_keys

PLANTED = "sk-planted-0123456789-secret-wxyz"


@pytest.mark.parametrize(
    ("flags", "stdin", "env"),
    [
        pytest.param(["--api-key-stdin"], PLANTED + "\n", {}, id="stdin"),
        pytest.param(["--api-key-prompt"], PLANTED + "\n", {}, id="hidden-prompt"),
        pytest.param([], None, {"MODELYARD_PROVIDER_API_KEY": PLANTED}, id="environment"),
    ],
)
def test_provider_round_trip_masks_the_key_and_never_prints_it(
    ready: Cli, flags: list[str], stdin: str | None, env: dict[str, str | None]
) -> None:
    add = ready(
        "providers",
        "add",
        "--name=openai",
        "--kind=openai",
        "--display-name=OpenAI",
        "--header=X-Team=ml",
        '--config={"project": "p-1"}',
        "--rpm=60",
        "--default",
        "--json",
        *flags,
        input=stdin,
        env=env,
    )
    assert add.exit_code == 0, add.output
    outputs = [add.output]
    created = ready.json("providers", "show", "openai")
    assert created["api_key"] == "sk-...wxyz"
    assert created["has_api_key"] is True
    assert created["custom_headers"] == {"X-Team": "ml"}
    assert created["config"] == {"project": "p-1"}
    assert created["is_default"] is True
    assert ready.json("providers", "show", created["id"]) == created
    listed = ready.json("providers", "list")
    assert listed["total"] == 1
    assert listed["items"] == [created]
    for args in (
        ("providers", "list"),
        ("providers", "show", "openai"),
        ("providers", "list", "--json"),
        ("audit", "list", "--json"),
        ("master-key", "status"),
    ):
        outputs.append(ready.ok(*args).output)
    assert "sk-...wxyz" in outputs[1]
    assert "OpenAI" in outputs[2]
    assert all(PLANTED not in out for out in outputs)
    sealed = sealed_keys(ready.database_url)[created["id"]]
    assert sealed.startswith("v1.")
    assert PLANTED not in sealed


def test_a_key_is_never_accepted_as_an_option_value(ready: Cli) -> None:
    message = ready.fails("providers", "add", "--name=x", "--kind=openai", f"--api-key={PLANTED}")
    assert "--api-key" in message
    assert PLANTED not in message
    assert ready.json("providers", "list")["total"] == 0


def test_a_missing_key_says_how_to_give_one(ready: Cli) -> None:
    message = ready.fails("providers", "add", "--name=x", "--kind=openai")
    assert "api_key: is required" in message
    assert "--api-key-stdin" in message


def test_update_set_key_and_delete(ready: Cli) -> None:
    ready.ok("providers", "add", "--name=local", "--kind=ollama")
    updated = ready.json("providers", "update", "local", "--name=lab", "--timeout-ms=5000")
    assert (updated["name"], updated["timeout_ms"]) == ("lab", 5000)
    assert "nothing to change" in ready.fails("providers", "update", "lab")
    keyed = ready.json("providers", "set-key", "lab", "--api-key-stdin", input=PLANTED)
    assert keyed["api_key"] == "sk-...wxyz"
    assert ready.json("providers", "set-key", "lab", "--remove")["has_api_key"] is False
    assert "no key given" in ready.fails("providers", "set-key", "lab")
    ready.ok("providers", "delete", "lab", "--yes")
    assert ready.json("providers", "list")["total"] == 0


def test_delete_asks_first(ready: Cli) -> None:
    ready.ok("providers", "add", "--name=local", "--kind=ollama")
    assert "aborted" in ready.fails("providers", "delete", "local", input="n\n")
    assert ready.json("providers", "list")["total"] == 1


def test_default_active_and_disabled_rules(ready: Cli) -> None:
    ready.ok("providers", "add", "--name=a", "--kind=ollama")
    ready.ok("providers", "add", "--name=b", "--kind=ollama", "--disabled")

    assert "(PROVIDER_DISABLED)" in ready.fails("providers", "set-default", "b")
    assert "(PROVIDER_DISABLED)" in ready.fails("providers", "activate", "b")

    assert ready.json("providers", "activate", "a")["is_active"] is True
    assert "(PROVIDER_IS_ACTIVE)" in ready.fails("providers", "disable", "a")
    assert "(PROVIDER_IS_ACTIVE)" in ready.fails("providers", "delete", "a", "--yes")

    ready.ok("providers", "enable", "b")
    ready.ok("providers", "activate", "b")
    assert ready.json("providers", "show", "a")["is_active"] is False
    assert ready.json("providers", "set-default", "b")["is_default"] is True
    assert ready.json("providers", "set-default", "a")["is_default"] is True
    assert ready.json("providers", "show", "b")["is_default"] is False
    disabled = ready.json("providers", "disable", "a")
    assert (disabled["enabled"], disabled["is_default"]) == (False, False)
    ready.ok("providers", "delete", "a", "--yes")
    assert [p["name"] for p in ready.json("providers", "list")["items"]] == ["b"]
