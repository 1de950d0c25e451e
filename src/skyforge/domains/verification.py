"""Proving control of a custom hostname: the token format and the ports that check it.

DNS: the TXT record `_skyforge-challenge.<hostname>` holds `skyforge-verification=<token>`.
This proves control of the zone, and is the one to require before moving a hostname away
from another project. HTTP: `http://<hostname>/.well-known/skyforge/<token>` answers 200 with
the token. The edge router serves what the control plane registers, so this proves only that
the name points at this platform's edge, not who asked for it: a hostname must therefore be
attached to one service platform-wide.
"""

from __future__ import annotations

import enum
import re
import secrets
from dataclasses import dataclass
from typing import Protocol

from skyforge.kernel.errors import Invalid

TXT_LABEL = "_skyforge-challenge"
TXT_PREFIX = "skyforge-verification="
HTTP_PATH = "/.well-known/skyforge/"
# URL-safe base64 (no padding): safe in a path, a file name and a TXT record, as it is.
TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,128}$")


class Outcome(enum.Enum):
    VERIFIED = "verified"
    MISSING = "missing"  # no record, 404: the user has not published the token (yet)
    MISMATCH = "mismatch"  # something answered, without this token
    UNREACHABLE = "unreachable"  # timeout, refused, server failure: worth trying again later


@dataclass(frozen=True)
class Check:
    """The result of one verification attempt, with a detail to show the user."""

    outcome: Outcome
    detail: str

    @property
    def verified(self) -> bool:
        return self.outcome is Outcome.VERIFIED


class OwnershipVerifier(Protocol):
    async def verify(self, hostname: str, token: str) -> Check:
        """Check, once, that `hostname` publishes `token` (hostname already normalized)."""


def new_token() -> str:
    """A fresh verification token: 256 random bits."""
    return secrets.token_urlsafe(32)


def check_token(token: str) -> str:
    """Return token when it has the token format, else raise Invalid."""
    if not isinstance(token, str) or not TOKEN.fullmatch(token):
        raise Invalid("a verification token is 32-128 letters, digits, '-' or '_'")
    return token


def txt_name(hostname: str) -> str:
    """The TXT record to look up; a wildcard is proven at its base name."""
    return f"{TXT_LABEL}.{hostname.removeprefix('*.')}"


def txt_value(token: str) -> str:
    """What the TXT record must hold."""
    return f"{TXT_PREFIX}{check_token(token)}"


def http_path(token: str) -> str:
    """The path that must answer with the token."""
    return f"{HTTP_PATH}{check_token(token)}"
