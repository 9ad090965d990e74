"""The console's browser tests: Debian's Chromium, driven by Playwright, against a real
``modelyard serve`` per test module (:mod:`tests.support.console_site`).

``admin_page`` and ``member_page`` are signed-in tabs at laptop width (1280x800);
``phone`` opens one at 390x844. Every tab aborts and records any request that is not to
127.0.0.1, and records page errors and Content Security Policy refusals: a test fails when
it made either. ``axe_clean(page)`` runs axe-core and fails on a serious or critical
violation, listing them."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, sync_playwright

from tests.support.browser import chromium
from tests.support.console_site import Person, Site, console_site

IN_CI = os.environ.get("CI", "").lower() == "true"
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SERIOUS = {"serious", "critical"}


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    path, why = chromium()
    if path is None:
        if IN_CI:
            pytest.fail(why)
        pytest.skip(why)
    return path


# Module-scoped, not session: Playwright's sync API keeps an event loop running while it is
# open, and the suite's async tests need none running between the modules.
@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def chrome(playwright_driver: Playwright, chromium_path: Path) -> Iterator[Browser]:
    browser = playwright_driver.chromium.launch(executable_path=str(chromium_path), headless=True)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with console_site(tmp_path_factory.mktemp("console")) as running:
        yield running


class Tabs:
    """Opens signed-in tabs and remembers what they did that they must not."""

    def __init__(self, chrome: Browser, site: Site) -> None:
        self.chrome = chrome
        self.site = site
        self.contexts: list[BrowserContext] = []
        self.elsewhere: list[str] = []
        self.errors: list[str] = []
        self._states: dict[str, Any] = {}

    def _guard(self, route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname != "127.0.0.1":
            self.elsewhere.append(url)
            route.abort()
        else:
            route.continue_()

    def open(self, person: Person | None, viewport: dict[str, int] = LAPTOP) -> Page:
        state = self._state(person) if person is not None else None
        context = self.chrome.new_context(
            viewport=viewport, base_url=self.site.base, storage_state=state
        )
        self.contexts.append(context)
        context.route("**/*", self._guard)
        tab = context.new_page()
        tab.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        tab.on(
            "console",
            lambda message: (
                self.errors.append(message.text)
                if message.type == "error" and "Content Security Policy" in message.text
                else None
            ),
        )
        return tab

    def _state(self, person: Person) -> Any:
        if person.email not in self._states:
            context = self.chrome.new_context(base_url=self.site.base)
            try:
                tab = context.new_page()
                sign_in(tab, person)
                self._states[person.email] = context.storage_state()
            finally:
                context.close()
        return self._states[person.email]

    def close(self) -> None:
        for context in self.contexts:
            context.close()
        self.contexts.clear()


def sign_in(tab: Page, person: Person) -> None:
    """Through the sign-in form, landing on the console."""
    tab.goto("/login?next=/console")
    tab.get_by_label("Email").fill(person.email)
    tab.get_by_label("Password").fill(person.password)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url("**/console")


@pytest.fixture(scope="module")
def module_tabs(chrome: Browser, site: Site) -> Iterator[Tabs]:
    tabs = Tabs(chrome, site)
    yield tabs
    tabs.close()


@pytest.fixture
def tabs(module_tabs: Tabs) -> Iterator[Tabs]:
    module_tabs.elsewhere.clear()
    module_tabs.errors.clear()
    yield module_tabs
    module_tabs.close()
    assert module_tabs.elsewhere == [], "requests left 127.0.0.1"
    assert module_tabs.errors == [], "the page broke or was refused by its CSP"


@pytest.fixture
def admin_page(tabs: Tabs, site: Site) -> Page:
    return tabs.open(site.admin)


@pytest.fixture
def member_page(tabs: Tabs, site: Site) -> Page:
    return tabs.open(site.member)


@pytest.fixture
def phone(tabs: Tabs) -> Callable[[Person], Page]:
    def open_phone(person: Person) -> Page:
        return tabs.open(person, PHONE)

    return open_phone


_AXE = Axe()


def axe_clean(tab: Page) -> None:
    """No serious or critical axe-core violation on the page as it is now."""
    results = _AXE.run(tab)
    found = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in SERIOUS
    ]
    assert found == [], f"{tab.url}:\n" + "\n".join(found)


def no_overflow(tab: Page) -> None:
    """Nothing on the page is wider than the window (a phone scrolls only down; wide
    tables scroll inside their own box)."""
    wider = tab.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert wider <= 1, f"{tab.url} is {wider}px wider than the window"
