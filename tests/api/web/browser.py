"""A browser, as far as modelyard's pages can tell: cookies kept, forms read from the page's
HTML (their hidden fields, the CSRF token among them) and posted with the page's Origin."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import httpx

ORIGIN = "http://modelyard.test"


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": values.get("action", ""), "fields": {}})
        elif tag == "input" and self.forms and values.get("type") == "hidden":
            self.forms[-1]["fields"][values.get("name", "")] = values.get("value", "")


def forms(html: str) -> list[dict[str, Any]]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def form(html: str, action: str) -> dict[str, str]:
    """The hidden fields of the page's form posting to ``action``."""
    for found in forms(html):
        if found["action"] == action:
            fields: dict[str, str] = found["fields"]
            return fields
    raise AssertionError(f"no form posting to {action} in the page:\n{html}")


def text(html: str) -> str:
    """The page's visible text, roughly: tags out, whitespace folded."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


class Browser:
    def __init__(self, client: httpx.AsyncClient, origin: str = ORIGIN) -> None:
        self.client = client
        self.origin = origin

    async def get(self, path: str) -> httpx.Response:
        return await self.client.get(path)

    async def submit(
        self, page: httpx.Response, action: str, fields: dict[str, str] | None = None
    ) -> httpx.Response:
        """Post the page's form to ``action``: its hidden fields plus ``fields``."""
        data = form(page.text, action) | (fields or {})
        return await self.client.post(
            action, data=data, headers={"Origin": self.origin, "Referer": str(page.url)}
        )

    async def sign_in(self, email: str, password: str, next_path: str = "") -> httpx.Response:
        query = f"?next={next_path}" if next_path else ""
        page = await self.get(f"/login{query}")
        assert page.status_code == 200, page.text
        return await self.submit(page, "/login", {"email": email, "password": password})
