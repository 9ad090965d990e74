"""Entry points under the test's control: the installed kinds, plus or minus some."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from modelyard.kinds import base
from modelyard.kinds.base import GROUP, reload_kinds

Install = Callable[..., None]


@pytest.fixture
def install(monkeypatch: pytest.MonkeyPatch) -> Iterator[Install]:
    """``install(*entry_points, built_ins=True)``: make the ``modelyard.kinds`` entry points
    the built-ins' (unless ``built_ins=False``) plus the given ones, and reload the kinds.
    The real entry points are back after the test."""
    real = list(base.metadata.entry_points(group=GROUP))

    def use(*extra: base.metadata.EntryPoint, built_ins: bool = True) -> None:
        points = base.metadata.EntryPoints([*(real if built_ins else ()), *extra])
        monkeypatch.setattr(base.metadata, "entry_points", lambda group: points)
        reload_kinds()

    yield use
    monkeypatch.undo()
    reload_kinds()
