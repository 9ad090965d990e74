"""GraphiQL in a real browser (Debian's Chromium driven by Playwright) against a real
``modelyard serve``: the page loads with no request leaving 127.0.0.1 (any other is aborted
and recorded), nothing breaks the page's Content Security Policy, and a query run with the
admin key in the headers editor shows the server's answer."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, Route, sync_playwright

from tests.support.browser import chromium

IN_CI = os.environ.get("CI", "").lower() == "true"
KEY = re.compile(r"myk_[A-Za-z0-9_-]{20,}")
# How long a starting server may take before the test gives up on it: a guard against one
# that never answers, not a measure (it took 40 s on two busy cores).
STARTUP_TIMEOUT_S = 120
QUERY = '{ systemSetting(key: "models.deprecated_policy") { key value isSet } }'


@pytest.fixture(scope="module")
def browser_path() -> Path:
    path, why = chromium()
    if path is None:
        if IN_CI:
            pytest.fail(why)
        pytest.skip(why)
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``modelyard serve`` on a free port of 127.0.0.1: its URL and the admin key it printed."""
    port = _free_port()
    env = {
        **os.environ,
        "MODELYARD_DATABASE_URL": database_url,
        "MODELYARD_MASTER_KEY_FILE": str(tmp_path / "serve.key"),
        "MODELYARD_USAGE_OUTBOX": str(tmp_path / "usage.outbox"),
        "MODELYARD_LOG_LEVEL": "warning",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("MODELYARD_MASTER_KEY", None)
    log = tmp_path / "serve.log"
    base = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "modelyard.cli", "serve", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            found = KEY.search(log.read_text())
            assert found is not None, log.read_text()
            yield base, found.group(0)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    assert "Traceback" not in log.read_text()


SET_HEADERS = """key => {
  for (const element of document.querySelectorAll('.CodeMirror')) {
    const editor = element.CodeMirror;
    if (editor.getValue().includes('"Bearer ')) {
      editor.setValue(JSON.stringify({Authorization: 'Bearer ' + key}));
      return true;
    }
  }
  return false;
}"""
SET_QUERY = """query => {
  const editor = document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror;
  editor.setValue(query);
}"""
RESULT = "() => document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue()"


def _run(page: Page, base: str, key: str) -> str:
    page.goto(f"{base}/graphql")
    page.wait_for_selector(".graphiql-container .graphiql-query-editor .CodeMirror")
    assert page.evaluate(SET_HEADERS, key), "the headers editor is not prefilled for Bearer"
    page.evaluate(SET_QUERY, QUERY)
    page.click(".graphiql-execute-button")
    page.wait_for_function(f"() => ({RESULT})().includes('models.deprecated_policy')")
    text: str = page.evaluate(RESULT)
    return text


def test_graphiql_runs_a_query_from_the_browser_with_no_request_elsewhere(
    served: tuple[str, str], browser_path: Path
) -> None:
    base, key = served
    elsewhere: list[str] = []
    blocked: list[str] = []

    def only_here(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname != "127.0.0.1":
            elsewhere.append(url)
            route.abort()
        else:
            route.continue_()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(browser_path), headless=True)
        try:
            page = browser.new_page()
            page.route("**/*", only_here)
            page.on("pageerror", lambda exc: blocked.append(f"page error: {exc}"))
            page.on(
                "console",
                lambda message: (
                    blocked.append(message.text)
                    if "Content Security Policy" in message.text
                    else None
                ),
            )
            answer = _run(page, base, key)
        finally:
            browser.close()
    assert json.loads(answer) == {
        "data": {
            "systemSetting": {"key": "models.deprecated_policy", "value": "warn", "isSet": False}
        }
    }
    assert elsewhere == []
    assert blocked == []
