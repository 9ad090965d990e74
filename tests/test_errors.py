"""One error tree: every domain error lives in ``modelyard.errors``, has an HTTP status and a
stable code, and appears in the tree drawn in that module's docstring."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

import modelyard
from modelyard import errors
from modelyard.errors import ModelyardError

# Alembic scripts run inside Alembic only; __main__ would start the CLI.
NOT_IMPORTABLE = ("modelyard.db.migrations.", "modelyard.cli.__main__")
CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")


def _import_everything() -> list[str]:
    names = [
        info.name
        for info in pkgutil.walk_packages(modelyard.__path__, "modelyard.")
        if not info.name.startswith(NOT_IMPORTABLE)
    ]
    for name in names:
        importlib.import_module(name)
    return names


def _subclasses(cls: type[ModelyardError]) -> list[type[ModelyardError]]:
    found: list[type[ModelyardError]] = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


MODULES = _import_everything()
DOMAIN = sorted(
    {c for c in [ModelyardError, *_subclasses(ModelyardError)] if c.__module__ != __name__},
    key=lambda c: c.__name__,
)


def test_the_walk_reaches_the_whole_package() -> None:
    assert {"modelyard.adapters.edge", "modelyard.gateway.pipeline", "modelyard.api.app"} <= set(
        MODULES
    )
    assert len(DOMAIN) >= 20


@pytest.mark.parametrize("cls", DOMAIN, ids=lambda c: c.__name__)
def test_every_domain_error_is_defined_in_modelyard_errors(cls: type[ModelyardError]) -> None:
    assert cls.__module__ == "modelyard.errors", f"{cls.__qualname__} is in {cls.__module__}"
    assert getattr(errors, cls.__name__) is cls


@pytest.mark.parametrize("cls", DOMAIN, ids=lambda c: c.__name__)
def test_every_domain_error_has_a_status_and_a_stable_code(cls: type[ModelyardError]) -> None:
    assert type(cls.status) is int
    assert 400 <= cls.status <= 599
    assert isinstance(cls.code, str)
    assert CODE.match(cls.code), cls.code


@pytest.mark.parametrize("cls", DOMAIN, ids=lambda c: c.__name__)
def test_the_docstring_tree_draws_every_class_with_its_status_and_code(
    cls: type[ModelyardError],
) -> None:
    assert errors.__doc__ is not None
    line = re.search(rf"[─ ]{cls.__name__} +(\d{{3}}) ([A-Z0-9_]+)", errors.__doc__)
    if cls is ModelyardError:
        line = re.search(rf"^ +{cls.__name__} +(\d{{3}}) ([A-Z0-9_]+)", errors.__doc__, re.M)
    assert line, f"{cls.__name__} is missing from the tree in modelyard/errors.py"
    assert (int(line[1]), line[2]) == (cls.status, cls.code)


def test_the_docstring_tree_draws_each_class_under_its_parent() -> None:
    assert errors.__doc__ is not None
    parents: dict[str, str] = {}
    stack: list[str] = []
    for row in errors.__doc__.splitlines():
        drawn = re.match(r"^ {4}((?:[│ ] {3})*)(?:[├└]── )?([A-Z]\w+) +\d{3} ", row)
        if not drawn:
            continue
        level = len(drawn[1]) // 4 + (1 if "──" in row else 0)
        name = drawn[2]
        del stack[level:]
        if stack:
            parents[name] = stack[-1]
        stack.append(name)
    for cls in DOMAIN:
        if cls is not ModelyardError:
            assert parents.get(cls.__name__) == cls.__base__.__name__, cls.__name__
