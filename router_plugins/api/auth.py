"""API-key check for the guide's routes: the proxy's master key, a virtual key when the proxy has a
database, or nothing for loopback clients when `allow_unauthenticated_loopback` says so."""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import Request

from ..runtime import get_runtime

_KEY_HEADERS = ("x-litellm-api-key", "x-api-key", "api-key")


class Unauthorized(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def presented_key(request: Request) -> str | None:
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    for header in _KEY_HEADERS:
        if value := request.headers.get(header):
            return value.strip()
    return None


def _is_master_key(key: str) -> bool:
    from litellm.proxy import proxy_server

    master_key = proxy_server.master_key
    return bool(master_key) and hmac.compare_digest(key.encode(), str(master_key).encode())


def _is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def require_api_key(request: Request) -> None:
    from litellm.proxy import proxy_server

    if get_runtime().service.config.allow_unauthenticated_loopback and _is_loopback(request):
        return
    key = presented_key(request)
    if key is None:
        raise Unauthorized("Missing API key: send 'Authorization: Bearer <key>' (the proxy's master key or a virtual key)")
    if _is_master_key(key):
        return
    if proxy_server.prisma_client is not None:
        try:
            await proxy_server.user_api_key_auth(request=request, api_key=f"Bearer {key}")
            return
        except Exception:  # any failure of the virtual-key check is a rejected key
            pass
    raise Unauthorized("Invalid API key")


async def proxy_key_check(request: Request, api_key: str) -> object:
    """`general_settings.custom_auth` for the proxy's own routes (the OpenAI API and the rest).

    Without a database LiteLLM answers a wrong key with 400 "No connected db."; this answers 401.
    The master key gets the identity LiteLLM's own check gives it (proxy admin, under the key's alias,
    never the key itself); handing it back as a string would send it through LiteLLM's whole key
    lookup a second time (about 3 ms a request on the bench VM). Every other key goes to LiteLLM's
    standard checks (virtual keys, budgets)."""
    from litellm.constants import LITELLM_PROXY_MASTER_KEY_ALIAS
    from litellm.proxy import proxy_server
    from litellm.proxy._types import LitellmUserRoles, ProxyErrorTypes, ProxyException, UserAPIKeyAuth

    key = api_key.removeprefix("Bearer ").strip() if api_key else ""
    if _is_master_key(key):
        return UserAPIKeyAuth(
            api_key=LITELLM_PROXY_MASTER_KEY_ALIAS,
            user_role=LitellmUserRoles.PROXY_ADMIN,
            user_id=proxy_server.litellm_proxy_admin_name,
        )
    if proxy_server.prisma_client is None:
        raise ProxyException(
            message="Invalid API key" if key else "Missing API key: send 'Authorization: Bearer <key>'",
            type=ProxyErrorTypes.auth_error,
            param="api_key",
            code=401,
        )
    return api_key
