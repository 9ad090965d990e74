"""What a review of the console found, held: offsets a URL carries never fail a page (digits
``int`` refuses, thousands of digits), and "test connection" cannot be pressed without end
(one test at a time per provider, a few a minute per person; the slot freed on every exit)."""

from __future__ import annotations

import uuid

import pytest

from modelyard.api.web.console import probe_gate
from modelyard.api.web.console.inputs import MAX_OFFSET, count_in
from modelyard.errors import TooManyAttempts
from modelyard.services import Registry
from tests.api.web.browser import Browser
from tests.api.web.conftest import make_person

LISTS = (
    "/console/models",
    "/console/providers",
    "/console/users",
    "/console/keys",
    "/console/plans",
    "/console/subscriptions",
    "/console/credits",
    "/console/usage",
    "/console/audit",
)
ODD = ("%C2%B2", "9" * 5000, "-1", "1e3", "%00", "99999999999999999999")


def test_counts_in_urls() -> None:
    assert count_in("²") == 0
    assert count_in("9" * 5000) == 0
    assert count_in("12") == 12
    assert count_in("9" * 19) == MAX_OFFSET
    assert count_in("") == 0


async def test_odd_offsets_never_fail_a_list(browser: Browser, registry: Registry) -> None:
    admin = await make_person(registry, role="admin")
    await browser.sign_in(admin.email, admin.password)
    for path in LISTS:
        for odd in ODD:
            answer = await browser.get(f"{path}?offset={odd}")
            assert answer.status_code in (200, 404, 422), (path, odd, answer.status_code)


async def test_connection_tests_are_rationed() -> None:
    person, provider, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with probe_gate.admitted(person, provider):
        with pytest.raises(TooManyAttempts, match="being tested now"):
            async with probe_gate.admitted(uuid.uuid4(), provider):
                pass
    with pytest.raises(RuntimeError):  # a failing test frees its slot too
        async with probe_gate.admitted(person, provider):
            raise RuntimeError("upstream gone")
    for _ in range(probe_gate.PER_MINUTE - 2):
        async with probe_gate.admitted(person, other):
            pass
    with pytest.raises(TooManyAttempts, match="in the last minute") as refused:
        async with probe_gate.admitted(person, other):
            pass
    assert 0 < refused.value.retry_after <= probe_gate.WINDOW_S
    async with probe_gate.admitted(uuid.uuid4(), other):  # someone else still may
        pass
