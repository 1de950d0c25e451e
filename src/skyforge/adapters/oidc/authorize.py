"""The authorization request: where the browser goes, with state, nonce and PKCE (RFC 7636)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """Where to send the browser, and what to keep server-side until the callback."""

    url: str
    state: str
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)


def code_challenge(verifier: str) -> str:
    """The S256 challenge of a PKCE code verifier."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorization_request(
    endpoint: str, client_id: str, redirect_uri: str, scopes: Sequence[str]
) -> AuthRequest:
    """A fresh login at `endpoint`: response_type=code with new state, nonce and verifier."""
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 characters of the unreserved set
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge(verifier),
            "code_challenge_method": "S256",
        },
        quote_via=quote,
    )
    separator = "&" if "?" in endpoint else "?"  # keep an endpoint's own query (Azure B2C)
    return AuthRequest(f"{endpoint}{separator}{query}", state, nonce, verifier)
