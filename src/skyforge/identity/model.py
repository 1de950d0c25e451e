"""Who is calling: API tokens (users and roles grow here)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

TOKEN_PREFIX = "sfp_"  # noqa: S105 (a name, not a secret)


def new_token() -> str:
    """A new random token (shown once; only its hash is kept)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a plain digest cannot be brute-forced.
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, token_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), token_hash)


@dataclass
class ApiToken:
    id: str
    name: str
    token_hash: str
    created_at: datetime
    last_used_at: datetime | None = None


@dataclass(frozen=True)
class Principal:
    token_id: str
    name: str
