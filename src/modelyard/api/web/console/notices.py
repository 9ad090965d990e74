"""After a form post the browser is sent back to a page (post/redirect/get) that says what
happened: ``?done=<word>`` names one of a page's fixed sentences (the models' are below),
so no link can make a console page say anything else. Every console page's notices and
redirects go through here."""

from __future__ import annotations

import re
from collections.abc import Mapping

from fastapi import Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from modelyard.api.web.forms import text

NOTICES = {
    "added": "The model was added.",
    "saved": "The model was saved.",
    "default": "The model is now the system default.",
    "deprecated": "The model is deprecated.",
    "reactivated": "The model is active again.",
    "deleted": "The model was deleted.",
    "price": "The price was scheduled.",
    "setting": "The setting was saved.",
    "reset": "The setting is back to its default.",
}
# Where a form may send the browser back to: a console page of this server, its query.
_LOCAL = re.compile(r"^/console(/[A-Za-z0-9._/-]*)?(\?[A-Za-z0-9=&%._+~-]*)?$")


def notice(request: Request, messages: Mapping[str, str] = NOTICES) -> str:
    """The status line for ``?done=``: one of ``messages``, else nothing."""
    return messages.get(request.query_params.get("done", ""), "")


def redirect(path: str, done: str) -> RedirectResponse:
    """After a change: back to ``path`` (303), which says ``done`` happened."""
    base = re.sub(r"[?&]done=[a-z]*", "", path)
    joiner = "&" if "?" in base else "?"
    return RedirectResponse(f"{base}{joiner}done={done}", status_code=303)


def back_to(form: FormData, default: str, done: str) -> RedirectResponse:
    """To the form's ``back`` page when it is a console page (the table a button was
    pressed in, with its filters), else ``default``; saying ``done``."""
    back = text(form, "back")
    return redirect(back if _LOCAL.match(back) and "//" not in back else default, done)
