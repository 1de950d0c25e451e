"""The OIDC client as identity's OidcProvider port: its errors become 401 or 502."""

from __future__ import annotations

import httpx

from skyforge.adapters.oidc.authorize import AuthRequest
from skyforge.adapters.oidc.client import IdentityClaims, OidcClient
from skyforge.adapters.oidc.errors import DiscoveryError, OidcError
from skyforge.kernel.errors import BadGateway, Unauthorized


class OidcLoginProvider:
    def __init__(self, client: OidcClient) -> None:
        self.client = client

    async def begin(self) -> AuthRequest:
        try:
            await self.client.discover()
            return self.client.begin()
        except (OidcError, httpx.HTTPError) as exc:
            raise BadGateway(f"the identity provider is not usable: {exc}") from exc

    async def finish(
        self, params: dict[str, str], *, expected_state: str, nonce: str, code_verifier: str
    ) -> IdentityClaims:
        try:
            return await self.client.finish_callback(
                params, expected_state=expected_state, nonce=nonce, code_verifier=code_verifier
            )
        except DiscoveryError as exc:
            raise BadGateway(f"the identity provider is not usable: {exc}") from exc
        except OidcError as exc:
            raise Unauthorized(f"the login was refused: {exc}") from exc
        except httpx.HTTPError as exc:
            raise BadGateway("the identity provider did not answer") from exc
