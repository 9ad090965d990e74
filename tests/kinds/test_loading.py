"""Loading the kinds from the ``modelyard.kinds`` entry points: plug-ins join the built-ins; a
broken or duplicate plug-in is logged and left out, and the built-ins always load."""

from __future__ import annotations

import logging

import pytest

from modelyard.adapters import fake
from modelyard.adapters.openai import ADAPTER as OPENAI
from modelyard.errors import Conflict
from modelyard.kinds import base
from modelyard.kinds.base import GROUP, adapter_for, kind_of, kinds, problems, reload_kinds
from tests.kinds import samples
from tests.kinds.conftest import Install
from tests.kinds.samples import point

BUILT_IN = {"openai", "openai_compatible", "anthropic", "gemini", "ollama", "declarative", "fake"}


def test_a_plug_in_kind_loads_beside_the_built_ins(install: Install) -> None:
    install(point("sample", "SAMPLE"))
    assert set(kinds()) == BUILT_IN | {"sample"}
    assert kind_of("sample") is samples.SAMPLE
    assert adapter_for("sample") is fake.ADAPTER
    assert problems() == ()


def test_reloading_forgets_a_removed_plug_in(install: Install) -> None:
    install(point("sample", "SAMPLE"))
    install()
    assert set(kinds()) == BUILT_IN
    with pytest.raises(Conflict) as caught:
        adapter_for("sample")
    assert caught.value.code == "KIND_NOT_INSTALLED"
    assert caught.value.status == 409
    assert "'sample', which is not installed" in caught.value.message


@pytest.mark.parametrize(
    ("entry", "target", "says"),
    [
        ("gone", "nowhere.module:KIND", "ModuleNotFoundError"),
        ("explodes", "tests.kinds.samples:EXPLODES", "the plug-in failed while loading"),
        ("dict", "tests.kinds.samples:NOT_A_KIND", "it is a dict, not a modelyard.kinds.base.Kind"),
        ("sample", "tests.kinds.samples:MISNAMED", "named 'sample' but its kind 'other'"),
        ("Bad Name", "tests.kinds.samples:BAD_NAME", "'Bad Name' is not a kind name"),
        ("no_adapter", "tests.kinds.samples:NO_ADAPTER", "its adapter lacks chat, stream, embed"),
        ("no_model", "tests.kinds.samples:NO_MODEL", "its config_model is not a pydantic model"),
    ],
)
def test_a_broken_plug_in_is_logged_and_left_out(
    install: Install, caplog: pytest.LogCaptureFixture, entry: str, target: str, says: str
) -> None:
    with caplog.at_level(logging.ERROR, logger="modelyard.kinds"):
        install(base.metadata.EntryPoint(name=entry, value=target, group=GROUP))
    assert set(kinds()) == BUILT_IN
    (problem,) = problems()
    assert problem.startswith(f"provider kind plug-in {entry!r} = {target!r} is left out: ")
    assert says in problem
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [problem]


def test_a_plug_in_cannot_replace_a_built_in_kind(
    install: Install, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="modelyard.kinds"):
        install(point("openai", "IMPOSTOR"))
    assert adapter_for("openai") is OPENAI
    (problem,) = problems()
    assert "'tests.kinds.samples:IMPOSTOR'" in problem
    assert problem.endswith("kind 'openai' exists already")
    assert problem in caplog.text


def test_of_two_plug_ins_of_one_name_the_first_stays(install: Install) -> None:
    install(point("sample", "SAMPLE"), point("sample", "SAMPLE_TWIN"), point("sample", "SAMPLE"))
    assert kind_of("sample") is samples.SAMPLE
    (problem,) = problems()  # the same object twice is no conflict
    assert "SAMPLE_TWIN" in problem


def test_built_ins_load_even_without_their_entry_points(
    install: Install, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="modelyard.kinds"):
        install(point("sample", "SAMPLE"), built_ins=False)
    assert set(kinds()) == BUILT_IN | {"sample"}
    assert "built-in kind 'fake' has no entry point; reinstall modelyard" in caplog.text
    assert problems() == ()


def test_unreadable_entry_points_leave_the_built_ins(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def unreadable(group: str) -> base.metadata.EntryPoints:
        raise ValueError("a distribution's entry_points.txt is garbled")

    monkeypatch.setattr(base.metadata, "entry_points", unreadable)
    try:
        with caplog.at_level(logging.ERROR, logger="modelyard.kinds"):
            assert set(reload_kinds()) == BUILT_IN
        (problem,) = problems()
        assert "garbled" in problem
        assert problem in caplog.text
    finally:
        monkeypatch.undo()
        reload_kinds()
    assert problems() == ()
