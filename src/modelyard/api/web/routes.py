"""The pages mounted on the app: sign-in and account pages, their stylesheet under
/static/, and the HTML error page for their failures."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import Response

from modelyard.api.web import account, device, errors, login
from modelyard.api.web import upstream as upstream_sign_in
from modelyard.api.web.console import routes as console
from modelyard.api.web.errors import PageError
from modelyard.api.web.render import STATIC

TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
# Read once: the files ship with the package and never change while it runs.
FILES = {
    path.name: (path.read_bytes(), TYPES[path.suffix])
    for path in sorted(STATIC.iterdir())
    if path.suffix in TYPES
}

static = APIRouter(include_in_schema=False)


@static.get("/static/{name}")
async def static_file(name: str) -> Response:
    found = FILES.get(name)
    if found is None:
        raise PageError(404, "Not found", "There is no such file here.")
    body, media_type = found
    headers = {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
    return Response(body, media_type=media_type, headers=headers)


def install(app: FastAPI) -> None:
    errors.install(app)  # pages' failures as the HTML error page
    app.include_router(static)
    app.include_router(login.router)
    app.include_router(account.router)
    upstream_sign_in.install(app)  # MODELYARD_OIDC_*: sign-in through another provider
    app.include_router(device.router)
    console.install(app)
