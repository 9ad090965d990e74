"""Bad input anywhere: one red line on stderr, exit code 1, no traceback, nothing changed."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from modelyard.cli import app
from tests.cli.conftest import Cli


@pytest.fixture
def stocked(ready: Cli) -> Cli:
    """A provider `openai` with model gpt-4o priced 2.50/10."""
    ready.ok("providers", "add", "--name=openai", "--kind=ollama")
    ready.ok(
        "models",
        "add",
        "--provider=openai",
        "--model-id=gpt-4o",
        "--input-price=2.50",
        "--output-price=10",
    )
    return ready


def state(cli: Cli) -> list[Any]:
    """What a failed command must leave as it was (every change also writes an audit event)."""
    return [
        cli.json("providers", "list"),
        cli.json("models", "list"),
        cli.json("settings", "list"),
        cli.json("audit", "list", "--limit=1"),
    ]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        pytest.param(
            ["providers", "add", "--name=x", "--kind=nope"],
            "'nope' is not a valid kind; valid kinds: anthropic, declarative, fake, gemini, "
            "ollama,",
            id="unknown-kind",
        ),
        pytest.param(
            ["providers", "add", "--name=openai", "--kind=ollama"],
            "a provider named 'openai' already exists among system providers (NAME_TAKEN)",
            id="duplicate-name",
        ),
        pytest.param(
            ["providers", "add", "--name=x", "--kind=ollama", "--config={not json"],
            "--config: is not valid JSON",
            id="bad-config-json",
        ),
        pytest.param(
            ["providers", "add", "--name=x", "--kind=ollama", '--config={"nope": 1}'],
            "config.nope: Extra inputs are not permitted",
            id="unknown-config-field",
        ),
        pytest.param(
            ["providers", "add", "--name=x", "--kind=ollama", "--header=no-equals-sign"],
            "--header: 'no-equals-sign' must look like NAME=VALUE",
            id="bad-header",
        ),
        pytest.param(
            ["providers", "add", "--name=x", "--kind=ollama", "--timeout-ms=soon"],
            "Invalid value for '--timeout-ms'",
            id="not-an-integer",
        ),
        pytest.param(
            ["providers", "update", "openai", "--bogus"],
            "No such option: --bogus",
            id="unknown-option",
        ),
        pytest.param(
            ["settings", "set", "no.such.key", "1"],
            "'no.such.key' is not a known setting",
            id="unknown-setting",
        ),
        pytest.param(
            ["settings", "set", "gateway.retry", "{max_attempts: 3}"],
            "value: is not valid JSON",
            id="bad-setting-json",
        ),
        pytest.param(
            ["prices", "set", "openai/gpt-4o", "--input=-1", "--output=2"],
            "input_per_mtok: Input should be greater than or equal to 0",
            id="negative-price",
        ),
        pytest.param(
            ["prices", "set", "openai/gpt-4o", "--input=1", "--output=2", "--currency=usd"],
            "currency: String should match pattern",
            id="bad-currency",
        ),
        pytest.param(
            ["models", "add", "--provider=openai", "--model-id=m", "--capability=telepathy"],
            "unknown capabilities ['telepathy']",
            id="unknown-capability",
        ),
        pytest.param(
            ["prices", "at", "openai/gpt-4o", "--at=yesterday"],
            "--at: 'yesterday' is not an ISO 8601 time",
            id="bad-time",
        ),
        pytest.param(
            ["prices", "at", "openai/gpt-4o", "--at=2030-01-01T00:00:00"],
            "--at: must carry a timezone",
            id="naive-time",
        ),
        pytest.param(
            ["models", "show", "openai/gpt-5"],
            "provider 'openai' has no model 'gpt-5'",
            id="unknown-model",
        ),
        pytest.param(
            ["providers", "show", "nobody"],
            "no system provider named 'nobody'",
            id="unknown-provider",
        ),
        pytest.param(
            ["users", "add", "--email=not-an-email"],
            "email: Value error, is not an email address",
            id="bad-email",
        ),
        pytest.param(
            ["keys", "create", "--user=admin@example.com", "--name=k", "--scope=root"],
            "unknown scopes ['root']",
            id="unknown-scope",
        ),
    ],
)
def test_bad_input_fails_with_one_clear_line_and_changes_nothing(
    stocked: Cli, args: list[str], says: str
) -> None:
    before = state(stocked)
    message = stocked.fails(*args)
    assert says in message
    assert state(stocked) == before


def test_invalid_settings_name_the_variable(ready: Cli) -> None:
    message = ready.fails("providers", "list", env={"MODELYARD_DATABASE_URL": "mysql://x/db"})
    assert "invalid settings: MODELYARD_DATABASE_URL" in message


def test_errors_are_red_on_a_colour_terminal(ready: Cli) -> None:
    result = CliRunner().invoke(app, ["providers", "show", "nobody"], env=ready.env, color=True)
    assert result.exit_code == 1
    assert result.stderr.startswith("\x1b[31merror: ")
    assert result.stdout == ""


def test_a_group_without_a_command_prints_its_help(ready: Cli) -> None:
    result = ready("providers")
    assert result.exit_code == 2
    assert "set-default" in result.output
