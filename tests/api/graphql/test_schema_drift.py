"""docs/schema.graphql is the schema /graphql serves, printed: a change to a type, a field or
a description shows in the docs, and in review, before it ships."""

from __future__ import annotations

import difflib
from pathlib import Path

from modelyard.api.graphql.schema import sdl

DOC = Path(__file__).resolve().parents[3] / "docs" / "schema.graphql"
COMMAND = "python -m modelyard.api.graphql.schema > docs/schema.graphql"


def test_docs_schema_graphql_is_the_printed_schema() -> None:
    printed = sdl()
    written = DOC.read_text()
    if written != printed:
        diff = "".join(
            difflib.unified_diff(
                written.splitlines(keepends=True),
                printed.splitlines(keepends=True),
                "docs/schema.graphql",
                "the schema",
                n=1,
            )
        )
        raise AssertionError(
            f"docs/schema.graphql is not the schema /graphql serves; run `{COMMAND}`"
            f" and commit it.\n{diff[:4000]}"
        )


def test_the_printed_schema_names_every_root_field() -> None:
    printed = sdl()
    assert "type Query {" in printed
    assert "systemSettings: [SystemSetting!]!" in printed
    assert "updateSystemSetting(key: String!, value: JSON = null): SystemSetting!" in printed
