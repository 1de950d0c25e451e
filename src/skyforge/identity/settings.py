"""Identity's knobs, passed in by bootstrap."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class IdentitySettings:
    issuer: str  # the API's own URL: `iss` of the access tokens it signs
    audience: str = "skyforge"
    access_ttl: timedelta = timedelta(minutes=15)
    refresh_ttl: timedelta = timedelta(days=30)
    # A key signs for `key_lifetime`, then stays in the JWKS until its last token expired.
    key_lifetime: timedelta = timedelta(days=7)
    invitation_ttl: timedelta = timedelta(days=7)
    admin_email: str = "admin@skyforge.local"
