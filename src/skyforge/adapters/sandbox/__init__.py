"""The sandbox tenant processes run in (see bubblewrap.py)."""

from skyforge.adapters.sandbox.bubblewrap import (
    Jail,
    Sandbox,
    SandboxUnavailable,
    sandbox_of,
)
from skyforge.adapters.sandbox.uids import UidBook, default_first_uid

__all__ = [
    "Jail",
    "Sandbox",
    "SandboxUnavailable",
    "UidBook",
    "default_first_uid",
    "sandbox_of",
]
