"""Screenshots of every console page for docs/ui/.

Starts a real ``modelyard serve`` on a fresh SQLite database in a temporary directory (with
the mock OpenAI-compatible upstream the browser tests use), fills it with sample data
(:mod:`console_demo_data`), signs in with Debian's Chromium (/usr/bin/chromium) through
Playwright and saves a full-page PNG of each page at laptop width (1280x800), plus the
member's dashboard and keys and the dashboard at a phone's width (390). A page the server
does not have yet (404) is skipped with a warning.

    .venv/bin/python scripts/console_screenshots.py [--out docs/ui] [--only audit,models]

The server, its keys and its data are thrown away afterwards: the key shown once in
``keys.png`` opens nothing."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src"), str(Path(__file__).resolve().parent)]

from console_demo_data import Seeded, seed  # noqa: E402
from playwright.sync_api import Error as PlaywrightError  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402
from tests.support.console_site import Person, Site, console_site  # noqa: E402

from modelyard.kinds.declarative_examples import EXAMPLE_OPENAI_CHAT  # noqa: E402

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
WAIT_MS = 5_000


class Skip(Exception):
    """The page is not there (yet), or not as this script expects it."""


@dataclass(frozen=True)
class Shot:
    name: str  # docs/ui/<name>.png
    path: Callable[[Seeded], str]
    who: str = "admin"  # or "member"
    viewport: str = "laptop"  # or "phone"
    then: Callable[[Page], None] | None = None  # what to do on the page before the shot


def _model(seeded: Seeded, ref: str = "openai-main/gpt-4o") -> str:
    return seeded.models[ref]


def _declarative_error(tab: Page) -> None:
    """The declarative kind's form sent with a config that names a wrong source."""
    broken = json.loads(json.dumps(EXAMPLE_OPENAI_CHAT))
    broken["request_builder"]["payload_structure"]["model"]["source"] = 5
    kind = tab.get_by_role("link", name="declarative", exact=True)
    if kind.count():
        kind.click()
    fields = {
        "Name (required)": "acme-staging",
        "Base URL (required)": "https://api.acme.example",
        "Config (required)": json.dumps(broken, indent=2),
    }
    for label, value in fields.items():
        tab.get_by_label(label, exact=True).fill(value, timeout=WAIT_MS)
    tab.get_by_role("button", name="Add provider").click(timeout=WAIT_MS)
    tab.get_by_role("alert").first.wait_for(timeout=WAIT_MS)


def _new_key(tab: Page) -> None:
    """A key made on the page, shown once (a throwaway server's: nothing to hide)."""
    tab.get_by_role("textbox", name="Name").fill("CI runner", timeout=WAIT_MS)
    tab.get_by_role("button", name="Create key").click(timeout=WAIT_MS)
    tab.locator(".secret").first.wait_for(timeout=WAIT_MS)


def _audit(tab: Page) -> None:
    """The chain verified, the newest event's full before and after open."""
    tab.get_by_role("button", name="Verify the chain").click(timeout=WAIT_MS)
    tab.get_by_text("Chain intact").wait_for(timeout=WAIT_MS)
    tab.locator("li.event details summary").first.click(timeout=WAIT_MS)


SHOTS = (
    Shot("dashboard", lambda s: "/console"),
    Shot("models", lambda s: "/console/models"),
    Shot("model", lambda s: f"/console/models/{_model(s)}"),
    Shot("model-edit", lambda s: f"/console/models/{_model(s)}/edit"),
    Shot(
        "model-deprecate",
        lambda s: f"/console/models/{_model(s, 'openai-main/gpt-4o-mini')}/deprecate",
    ),
    Shot("infrastructure", lambda s: "/console/infrastructure"),
    Shot("providers", lambda s: "/console/providers"),
    Shot("provider", lambda s: f"/console/providers/{s.providers['openai-main']}"),
    Shot(
        "provider-new-declarative",
        lambda s: "/console/providers/new?kind=declarative",
        then=_declarative_error,
    ),
    Shot("users", lambda s: "/console/users"),
    Shot("keys", lambda s: "/console/keys/new", then=_new_key),
    Shot("oauth-clients", lambda s: "/console/oauth-clients"),
    Shot("plans", lambda s: "/console/plans"),
    Shot("subscriptions", lambda s: "/console/subscriptions"),
    Shot("credits", lambda s: "/console/credits"),
    Shot("usage", lambda s: "/console/usage"),
    Shot("audit", lambda s: "/console/audit", then=_audit),
    Shot(
        "audit-event",
        lambda s: "/console/audit?action=setting.set",
        then=lambda tab: tab.locator("li.event h3 a").first.click(timeout=WAIT_MS),
    ),
    Shot("member-dashboard", lambda s: "/console", who="member"),
    Shot("member-keys", lambda s: "/console/keys", who="member"),
    Shot("phone-dashboard", lambda s: "/console", viewport="phone"),
)


def _sign_in(tab: Page, person: Person) -> None:
    tab.goto("/login?next=/console")
    tab.get_by_label("Email").fill(person.email)
    tab.get_by_label("Password").fill(person.password)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url("**/console")


def _take(tab: Page, shot: Shot, seeded: Seeded, out: Path) -> None:
    answer = tab.goto(shot.path(seeded))
    status = answer.status if answer is not None else 0
    if status == 404:
        raise Skip("the page is not there (404)")
    if status >= 400:
        raise Skip(f"the page answered {status}")
    if shot.then is not None:
        try:
            shot.then(tab)
        except PlaywrightError as exc:
            raise Skip(f"could not act on the page: {str(exc).splitlines()[0]}") from None
    tab.screenshot(path=str(out / f"{shot.name}.png"), full_page=True)


def run(out: Path, only: set[str]) -> int:
    """Takes the shots; the number skipped."""
    out.mkdir(parents=True, exist_ok=True)
    skipped = 0
    with tempfile.TemporaryDirectory() as scratch, console_site(Path(scratch)) as site:
        print(f"server at {site.base}; seeding sample data...")
        seeded = seed(site)
        print(
            f"seeded {len(seeded.providers)} providers, {len(seeded.models)} models, "
            f"{len(seeded.users)} members, {seeded.calls} calls"
        )
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path="/usr/bin/chromium")
            tabs: dict[tuple[str, str], Page] = {}
            for shot in SHOTS:
                if only and shot.name not in only:
                    continue
                tab = tabs.get((shot.who, shot.viewport))
                if tab is None:
                    tab = _open(browser, site, shot)
                    tabs[(shot.who, shot.viewport)] = tab
                try:
                    _take(tab, shot, seeded, out)
                    print(f"saved {out / shot.name}.png")
                except Skip as why:
                    skipped += 1
                    print(f"warning: skipped {shot.name}: {why}", file=sys.stderr)
            browser.close()
    return skipped


def _open(browser: object, site: Site, shot: Shot) -> Page:
    viewport = PHONE if shot.viewport == "phone" else LAPTOP
    context = browser.new_context(viewport=viewport, base_url=site.base)  # type: ignore[attr-defined]
    tab: Page = context.new_page()
    tab.on("dialog", lambda dialog: dialog.accept())
    _sign_in(tab, site.admin if shot.who == "admin" else site.member)
    return tab


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "ui")
    parser.add_argument("--only", default="", help="comma-separated names, e.g. audit,models")
    args = parser.parse_args()
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    skipped = run(args.out, only)
    print(f"done; {skipped} skipped" if skipped else "done")


if __name__ == "__main__":
    main()
