"""`modelyard audit`: listing events, and verify naming the first tampered one."""

from __future__ import annotations

import pytest

from tests.cli.conftest import Cli, tamper


def test_audit_list_filters_events(ready: Cli) -> None:
    ready.ok("providers", "add", "--name=a", "--kind=ollama")
    ready.ok("providers", "disable", "a")
    events = ready.json("audit", "list", "--entity-type=provider")["items"]
    assert [e["action"] for e in events] == ["provider.disable", "provider.create"]
    assert all(e["actor_label"] == "cli" for e in events)
    only = ready.json("audit", "list", "--action=provider.create")
    assert only["total"] == 1
    assert only["items"][0]["entity_id"] == events[0]["entity_id"]
    by_id = ready.json("audit", "list", f"--entity-id={events[0]['entity_id']}", "--limit=1")
    assert (by_id["total"], len(by_id["items"])) == (2, 1)
    assert "provider.disable" in ready.ok("audit", "list").stdout


@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_verify_passes_then_names_the_tampered_event(ready: Cli, as_json: bool) -> None:
    ready.ok("providers", "add", "--name=a", "--kind=ollama")
    ready.ok("providers", "add", "--name=b", "--kind=ollama")
    total = ready.json("audit", "list")["total"]
    assert f"{total} events checked" in ready.ok("audit", "verify").stdout
    target = ready.json("audit", "list", "--action=provider.create", "--limit=1")["items"][0]
    tamper(ready.database_url, target["id"])

    if as_json:
        result = ready("audit", "verify", "--json")
        assert result.exit_code == 1
        assert result.stdout.count('"broken_at"') == 1
        assert f'"broken_at": {target["id"]}' in result.stdout
    else:
        message = ready.fails("audit", "verify")
        assert f"broken at event {target['id']}: content does not match its hash" in message
