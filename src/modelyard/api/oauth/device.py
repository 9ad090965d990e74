"""The device authorization grant (RFC 8628) on Authlib, for CLIs and headless apps.

``POST /oauth/device_authorization`` (a client allowed the device grant; public clients send
their ``client_id``) answers a device code, a user code and ``/device``, where the user
approves (``api/web/device.py``). The device then polls ``POST /oauth/token`` with
``grant_type=urn:ietf:params:oauth:grant-type:device_code`` and hears
``authorization_pending``, ``slow_down`` (it polled sooner than ``interval``; the interval
grows by 5 s), ``expired_token``, ``access_denied``, ``invalid_grant`` (unknown, used, or
another client's code), or its tokens, once. The rules live in
:mod:`modelyard.registry.oauth_devices`; this module adapts them to Authlib's classes.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import (
    AccessDeniedError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    OAuth2Request,
    UnauthorizedClientError,
    scope_to_list,
)
from authlib.oauth2.rfc8628 import (
    DEVICE_CODE_GRANT_TYPE,
    AuthorizationPendingError,
    DeviceAuthorizationEndpoint,
    DeviceCodeGrant,
    DeviceCredentialDict,
    ExpiredTokenError,
    SlowDownError,
)
from fastapi import APIRouter, Request
from fastapi.responses import Response

from modelyard.api.oauth import bridge
from modelyard.api.oauth.grants import WITH_PUBLIC, active_person
from modelyard.api.oauth.models import Client
from modelyard.api.oauth.server import JSON_HEADERS, ModelyardServer, serve_endpoint
from modelyard.errors import TooManyAttempts
from modelyard.registry.oauth_devices import OAuthDevices

router = APIRouter(include_in_schema=False)
VERIFICATION_PATH = "/device"
MAX_DEVICE_CODE = 200


class Busy(OAuth2Error):  # type: ignore[misc]
    """Too many of the client's device sign-ins wait for approval: 429, retry later."""

    error = "temporarily_unavailable"
    status_code = 429

    def __init__(self, description: str, retry_after: int) -> None:
        super().__init__(description)
        self.retry_after = retry_after

    def get_headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = super().get_headers()
        return [*headers, ("Retry-After", str(self.retry_after))]


class DeviceAuthorization(DeviceAuthorizationEndpoint):  # type: ignore[misc]
    """Step (A)-(B): the client asks, the registry issues the codes (their lifetime is the
    ``auth.device_code_ttl_s`` setting, not Authlib's constant)."""

    CLIENT_AUTH_METHODS = WITH_PUBLIC
    server: ModelyardServer

    def create_endpoint_response(self, request: OAuth2Request) -> tuple[int, Any, Any]:
        client: Client = self.authenticate_client(request)
        if not client.check_grant_type(DEVICE_CODE_GRANT_TYPE):
            raise UnauthorizedClientError("This client may not use the device authorization grant.")
        self.server.validate_requested_scope(request.payload.scope)
        scope = client.get_allowed_scope(request.payload.scope)
        if scope is None:
            raise InvalidScopeError("The client is not registered for every scope asked for.")
        devices = OAuthDevices(self.server.db)
        try:
            started = bridge.wait(lambda: devices.start(client.row, scope_to_list(scope) or []))
        except TooManyAttempts as exc:
            raise Busy(exc.message, int(exc.details["retry_after"])) from None
        uri = self.server.url(VERIFICATION_PATH)
        body = {
            "device_code": started.device_code,
            "user_code": started.user_code,
            "verification_uri": uri,
            "verification_uri_complete": f"{uri}?user_code={started.user_code}",
            "expires_in": started.expires_in,
            "interval": started.interval,
        }
        return 200, body, JSON_HEADERS


class DeviceGrant(DeviceCodeGrant):  # type: ignore[misc]
    """Step (E)-(F): one poll, decided in one transaction by the registry (so an approved
    code yields tokens once, and a slow poller's interval grows for good)."""

    TOKEN_ENDPOINT_AUTH_METHODS = WITH_PUBLIC
    server: ModelyardServer

    def validate_token_request(self) -> None:
        device_code = self.request.payload.data.get("device_code")
        if not device_code:
            raise InvalidRequestError("Missing 'device_code' in the request.")
        client: Client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError("This client may not use the device authorization grant.")
        if len(device_code) > MAX_DEVICE_CODE:
            raise InvalidGrantError("The device code is unknown, used or another client's.")
        devices = OAuthDevices(self.server.db)
        poll = bridge.wait(lambda: devices.poll(client.row, device_code))
        if poll.outcome == "pending":
            raise AuthorizationPendingError()
        if poll.outcome == "slow_down":
            raise SlowDownError(f"Poll at most every {poll.interval} seconds.")
        if poll.outcome == "expired":
            raise ExpiredTokenError("The device code expired; start again.")
        if poll.outcome == "denied":
            raise AccessDeniedError("The user refused this device.")
        if poll.outcome != "approved" or poll.user_id is None:
            raise InvalidGrantError("The device code is unknown, used or another client's.")
        user_id = poll.user_id
        person = bridge.wait(lambda: active_person(self.server.db, user_id))
        if person is None:
            raise InvalidGrantError("The user who approved this device can no longer sign in.")
        self.request.user = person
        self.request.client = client
        self.request.credential = DeviceCredentialDict(
            client_id=client.get_client_id(), scope=" ".join(poll.scopes), user_code=""
        )


def register(server: ModelyardServer) -> None:
    server.register_grant(DeviceGrant)
    server.register_endpoint(DeviceAuthorization)
    server.advertise(device_authorization_endpoint="/oauth/device_authorization")


@router.post("/oauth/device_authorization")
async def device_authorization(request: Request) -> Response:
    return await serve_endpoint(request, DeviceAuthorization.ENDPOINT_NAME)
