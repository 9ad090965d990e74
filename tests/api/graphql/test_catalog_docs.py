"""docs/graphql.md's catalog examples run: every GraphQL document of the sections "Seed
001's operations" and "Providers, models and prices", with the variables after it (its
placeholders given a real provider's and a fresh model's ids), answers without errors."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import httpx

from tests.api.graphql.gql import gql
from tests.api.helpers import make_model, make_provider

DOC = (Path(__file__).resolve().parents[3] / "docs" / "graphql.md").read_text()
SECTIONS = ("Seed 001's operations", "Providers, models and prices")
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```\n", re.MULTILINE | re.DOTALL)


def examples() -> list[tuple[str, str | None]]:
    """(document, its variables' JSON or None) in the order the sections show them."""
    found: list[tuple[str, str | None]] = []
    for section in SECTIONS:
        start = DOC.index(f"\n## {section}\n")
        end = DOC.find("\n## ", start + 1)
        text = DOC[start : end if end != -1 else None]
        blocks = list(BLOCK.finditer(text))
        for block, after in itertools.zip_longest(blocks, blocks[1:]):
            if block.group(1) != "graphql":
                continue
            between = text[block.end() : after.start()] if after is not None else "x"
            variables = after.group(2) if after and after.group(1) == "json" else None
            found.append((block.group(2), variables if not between.strip() else None))
    return found


def test_each_seed_operation_has_an_example() -> None:
    documents = " ".join(d for d, _ in examples())
    for operation in (
        "llmProviders",
        "llmModels",
        "availableModels",
        "createLlmModel",
        "updateLlmModel",
        "deprecateLlmModel",
        "setDefaultModel",
    ):
        assert f"{operation}(" in documents, operation


async def test_the_examples_run(client: httpx.AsyncClient, admin_key: str) -> None:
    provider = await make_provider(client, admin_key, "openai")
    ran = 0
    for serial, (document, variables) in enumerate(examples()):
        model = await make_model(
            client,
            admin_key,
            provider["id"],
            f"example-{serial}",
            price={"input_per_mtok": "1", "output_per_mtok": "2"},
        )
        text = (variables or "{}").replace("<provider-id>", provider["id"])
        given: dict[str, Any] = json.loads(text.replace("<model-id>", model["id"]))
        response = await gql(client, admin_key, document, given)
        body = response.json()
        assert response.status_code == 200, (document, body)
        assert "errors" not in body, (document, body)
        ran += 1
    assert ran >= 10
