"""docs/graphql.md's billing examples are documents the schema accepts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import parse, validate

from modelyard.api.graphql.schema import schema

DOC = (Path(__file__).resolve().parents[3] / "docs" / "graphql.md").read_text()
SECTION = DOC[DOC.index("\n## Plans, subscriptions and credits\n") :].split("\n## ")[1]
EXAMPLES = re.findall(r"^```graphql\n(.*?)^```", SECTION, re.MULTILINE | re.DOTALL)


def test_the_section_has_an_example_of_each_kind() -> None:
    text = "".join(EXAMPLES)
    for name in (
        "plans",
        "createPlan",
        "updatePlan",
        "subscriptions",
        "createSubscription",
        "updateSubscription",
        "creditBalance",
        "creditLedger",
        "grantCredits",
        "adjustCredits",
        "renewBilling",
    ):
        assert re.search(rf"\b{name}\b", text), name


@pytest.mark.parametrize("example", EXAMPLES)
def test_each_example_validates(example: str) -> None:
    assert validate(schema()._schema, parse(example)) == []
