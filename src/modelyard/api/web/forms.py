"""Reading a page's form post: bounded in size and fields, text only, nothing a database
cannot store (a 4xx error page, never a 500)."""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException

from modelyard.api.web.errors import PageError
from modelyard.registry.fields import unstorable

MAX_BODY = 16 * 1024
MAX_FIELDS = 20
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _bad(message: str, status: int = 400) -> PageError:
    return PageError(status, "This form could not be read", message)


async def read_form(
    request: Request, *, max_body: int = MAX_BODY, max_fields: int = MAX_FIELDS
) -> FormData:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in FORM_TYPES:
        raise _bad("Send the form from its page.", 415)
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > max_body):
        raise _bad("The form is too large.", 413)
    body = b""
    async for chunk in request.stream():  # bounded as it arrives, not after
        body += chunk
        if len(body) > max_body:
            raise _bad("The form is too large.", 413)
    request._body = body  # what request.form() parses
    try:
        form = await request.form(max_files=0, max_fields=max_fields)
    except HTTPException as exc:
        raise _bad("The form could not be read.") from exc
    for name, value in form.multi_items():
        if not isinstance(value, str) or unstorable(name) or unstorable(value):
            raise _bad("The form holds characters that cannot be accepted.")
    return form


def text(form: FormData, name: str) -> str:
    """A field's text ('' when absent); read_form made sure it is text."""
    value = form.get(name)
    return value if isinstance(value, str) else ""
