"""schemathesis against the real ASGI app: no input gets a 500, every answer is documented.

Every operation of the OpenAPI the app serves is tested (nothing is filtered out), on SQLite
and PostgreSQL, once as an admin and once as a member (through a member's API key), with
schemathesis' examples, coverage and fuzzing phases and these checks:

- ``not_a_server_error``: no 5xx, whatever the input;
- ``status_code_conformance``: every status answered is one the OpenAPI lists;
- ``response_schema_conformance``: every body matches the schema listed for its status;
- ``unsupported_method``, ``allow_header_conformance``: a method a path lacks is a 405 whose
  ``Allow`` names the path's methods.

The run is reproducible (fixed seed, deterministic generation) and bounded to fit CI by
``MAX_EXAMPLES`` per operation and phase. The stateful phase is not run: its random walks
over sequences of operations would take most of the time budget, while the phases that run
already reach every operation with valid and invalid inputs. The number of cases each run
sent is printed (and recorded as a junit property): with ``MAX_EXAMPLES = 25``, about 3,700
cases per run over the 59 operations of today, about 15,000 for the four runs (2-3 minutes
on two cores).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, from_schema
from schemathesis.engine import events as ev
from schemathesis.python import asgi

from modelyard.api.app import create_app
from modelyard.settings import Settings
from tests.api.schemathesis_rig import KeptActor, seed

MAX_EXAMPLES = 25
SEED = 20261205
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "response_schema_conformance",
    "unsupported_method",  # a method the path lacks: 405 with `Allow`
    "allow_header_conformance",  # and `Allow` names every method the OpenAPI lists
]


def config(key: str) -> SchemathesisConfig:
    # Given at every level: a phase's own defaults would turn other checks back on.
    checks: dict[str, Any] = {"enabled": False} | {name: {"enabled": True} for name in CHECKS}
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "suppress-health-check": ["all"],
            "cache": {"enabled": False},
            "headers": {"Authorization": f"Bearer {key}"},
            "workers": 1,
            "continue-on-failure": True,
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "phases": {
                "examples": {"enabled": True, "checks": checks},
                "coverage": {"enabled": True, "checks": checks},
                "fuzzing": {"enabled": True, "checks": checks},
                "stateful": {"enabled": False},
            },
            "checks": checks,
        }
    )


def _all_checks() -> list[str]:
    from schemathesis.checks import CHECKS as REGISTRY

    return list(REGISTRY.get_all_names())


@dataclass
class Outcome:
    cases: int = 0
    operations: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    by_operation: dict[str, set[int]] = field(default_factory=dict)


def _scenario(outcome: Outcome, recorder: Any) -> None:
    outcome.cases += len(recorder.cases)
    if recorder.cases:
        outcome.operations.add(recorder.label)
    seen = outcome.by_operation.setdefault(recorder.label, set())
    for interaction in recorder.interactions.values():
        if interaction.response is not None:
            outcome.statuses[interaction.response.status_code] += 1
            seen.add(interaction.response.status_code)
    for checks in recorder.checks.values():
        for check in checks:
            if check.status == Status.FAILURE and check.failure_info is not None:
                info = check.failure_info
                outcome.failures.append(
                    f"{recorder.label}: {info.failure.title}: {info.failure.message}\n"
                    f"    {info.code_sample}"
                )


def run(schema: Any) -> Outcome:
    outcome = Outcome()
    for event in from_schema(schema).execute():
        if isinstance(event, ev.ScenarioFinished | ev.FuzzScenarioFinished):
            _scenario(outcome, event.recorder)
        elif isinstance(event, ev.NonFatalError):
            outcome.errors.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, ev.FatalError):
            outcome.errors.append(f"fatal: {event.exception!r}")
    return outcome


@pytest.mark.parametrize("role", ["admin", "member"])
def test_no_input_gets_a_server_error_or_an_undocumented_answer(
    role: str,
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    record_property: Any,
) -> None:
    settings = Settings(
        database_url=database_url,
        master_key_file=tmp_path / "modelyard.key",
        admin_email="admin@example.com",
        usage_outbox=tmp_path / "usage.outbox",
    )
    seeded = asyncio.run(seed(settings))
    user_id, key = (
        (seeded.admin_id, seeded.admin_key)
        if role == "admin"
        else (seeded.member_id, seeded.member_key)
    )
    app = create_app(settings)
    kept = KeptActor(app, user_id, role, key)
    try:
        schema = schemathesis.openapi.from_asgi("/openapi.json", kept, config=config(key))
        documented = {op.ok().label for op in schema.get_all_operations()}
        outcome = run(schema)
    finally:
        asgi.shutdown_lifespans()

    db = database_url.split(":", 1)[0].split("+", 1)[0]
    summary = (
        f"schemathesis: {outcome.cases:,} cases over {len(outcome.operations)} operations "
        f"({db}, {role}), {len(outcome.failures)} failures, actor restored "
        f"{kept.restored} times; statuses {dict(sorted(outcome.statuses.items()))}"
    )
    record_property("schemathesis_cases", outcome.cases)
    with capsys.disabled():
        print(f"\n{summary}")
    problems = outcome.errors + outcome.failures
    assert not problems, f"{summary}\n" + "\n".join(problems)
    assert outcome.operations == documented, documented - outcome.operations
    # The actor stayed able to act: every operation got past authentication at least once.
    locked_out = sorted(op for op, seen in outcome.by_operation.items() if seen <= {401})
    assert not locked_out, locked_out
