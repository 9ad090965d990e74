"""Every page is usable by keyboard and screen reader and loads nothing from elsewhere:
a language, a title, one h1, a main landmark and a skip link to it, a label for every
field, named buttons, no script, no inline style, no CDN; the stylesheet's text colours
meet WCAG AA contrast and focus is always visible."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest

from modelyard.api.web.render import STATIC
from modelyard.services import Registry
from tests.api.web.browser import Browser, form
from tests.api.web.conftest import Person
from tests.api.web.oauth_rows import connect_app

CSS = (STATIC / "modelyard.css").read_text()


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.labels: set[str] = set()
        self.h1 = 0
        self.title = ""
        self._in: list[str] = []
        self.button_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.tags.append((tag, values))
        if tag == "label" and "for" in values:
            self.labels.add(values["for"])
        if tag == "h1":
            self.h1 += 1
        if tag == "button":
            self.button_text.append(values.get("aria-label", ""))
        self._in.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        if self._in and self._in[-1] == "title":
            self.title += data
        if self._in and self._in[-1] == "button" and self.button_text:
            self.button_text[-1] += data.strip()


def check_page(html: str) -> None:
    page = Page()
    page.feed(html)
    tags = dict.fromkeys(t for t, _ in page.tags)
    html_tag = next(a for t, a in page.tags if t == "html")
    assert html_tag.get("lang") == "en"
    assert page.title.strip()
    assert page.h1 == 1
    assert "main" in tags
    assert any(t == "a" and a.get("href") == "#main" for t, a in page.tags)  # skip link
    assert "script" not in tags
    for tag, attrs in page.tags:
        assert "style" not in attrs, tag
        for attr in ("src", "href", "action"):
            value = attrs.get(attr, "")
            assert not re.match(r"^(https?:)?//", value), f"{tag} {attr}={value}"
        if tag == "input" and attrs.get("type") != "hidden":
            assert attrs.get("id") in page.labels, attrs
        if tag == "link" and attrs.get("rel") == "stylesheet":
            assert attrs["href"].startswith("/static/")
    assert all(page.button_text), page.button_text


@pytest.fixture
async def pages(
    browser: Browser, web_client: httpx.AsyncClient, registry: Registry, person: Person
) -> dict[str, httpx.Response]:
    """One of each page, as a browser gets it."""
    await connect_app(registry, person.id, "desk", "Desk", ["llm.inference", "openid"])
    found = {"login": await browser.get("/login")}
    found["login error"] = await browser.sign_in(person.email, "wrong password here")
    await browser.sign_in(person.email, person.password)
    found["apps"] = await browser.get("/account/apps")
    found["logout"] = await browser.get("/logout")
    found["not found"] = await browser.get("/static/missing.css")
    found["forged"] = await web_client.post("/logout", data={"csrf_token": "x"})
    found["signed out"] = await browser.submit(found["logout"], "/logout")
    return found


async def test_every_page_is_accessible_and_self_contained(
    pages: dict[str, httpx.Response],
) -> None:
    for name, answer in pages.items():
        assert answer.headers["content-type"].startswith("text/html"), name
        check_page(answer.text)
        policy = answer.headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "style-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["cache-control"] == "no-store"


async def test_the_login_form_helps_password_managers_and_errors_are_announced(
    pages: dict[str, httpx.Response],
) -> None:
    html = pages["login error"].text
    assert 'autocomplete="username"' in html
    assert 'autocomplete="current-password"' in html
    assert 'role="alert" id="login-error"' in html
    assert html.count('aria-describedby="login-error"') == 2
    assert form(html, "/login")["csrf_token"]


async def test_the_disconnect_button_names_its_app(pages: dict[str, httpx.Response]) -> None:
    assert 'aria-label="Disconnect Desk"' in pages["apps"].text
    assert '<th scope="col">' in pages["apps"].text


def _rgb(hex_colour: str) -> tuple[float, float, float]:
    value = hex_colour.lstrip("#")
    parts = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in parts]
    return linear[0], linear[1], linear[2]


def _luminance(hex_colour: str) -> float:
    r, g, b = _rgb(hex_colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_text_colours_meet_wcag_aa() -> None:
    colours = dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-fA-F]{6})", CSS))
    pairs = re.findall(r"contrast: (--[\w-]+) on (--[\w-]+)", CSS)
    assert len(pairs) >= 6
    for fore, back in pairs:
        ratio = contrast(colours[fore], colours[back])
        assert ratio >= 4.5, f"{fore} on {back}: {ratio:.2f}"
    # the variables text is drawn with are all among the checked pairs
    used = set(re.findall(r"(?<![-\w])color:\s*var\((--[\w-]+)\)", CSS))
    assert used <= {fore for fore, _ in pairs}, used - {fore for fore, _ in pairs}
    # non-text: field borders and the focus ring against the page (3:1, WCAG 1.4.11)
    assert contrast(colours["--border"], colours["--page"]) >= 3
    assert contrast(colours["--focus"], colours["--page"]) >= 3


def test_focus_is_always_visible_and_nothing_is_remote() -> None:
    assert re.search(r":focus-visible[^{]*\{[^}]*outline:\s*3px solid", CSS)
    assert "outline: none" not in CSS
    assert "outline: 0" not in CSS
    assert "@import" not in CSS
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", CSS)
    assert "prefers-reduced-motion" in CSS
