"""Environment variable names an app may not be given: one list, for config vars and secrets.

Refused, as Heroku and Dokku refuse what their runtime owns: what SkyForge sets in every
process (PORT, HOME, PATH, SKYFORGE_*), and what changes how the dynamic loader, a shell or an
interpreter starts a program (it could load code before the app's own, or break its start).
"""

from __future__ import annotations

import re

VALID = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
SET_BY_SKYFORGE = frozenset({"PORT", "HOME", "PATH"})
STARTUP = frozenset(
    {"PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "NODE_OPTIONS", "BASH_ENV", "ENV", "IFS"}
)
PREFIXES = {
    "SKYFORGE_": "SkyForge sets SKYFORGE_* itself",
    "LD_": "LD_* steers the dynamic loader (LD_PRELOAD, LD_LIBRARY_PATH...)",
    "DYLD_": "DYLD_* steers the dynamic loader",
}
RULE = (
    "reserved names: PORT, HOME, PATH, SKYFORGE_*, LD_*, DYLD_*, PYTHONHOME, PYTHONPATH, "
    "PYTHONSTARTUP, NODE_OPTIONS, BASH_ENV, ENV, IFS"
)


def reserved_reason(name: str) -> str | None:
    """Why `name` may not be set for an app, or None when it may (case matters, as in POSIX)."""
    if name in SET_BY_SKYFORGE:
        return f"SkyForge sets {name} in every process"
    if name in STARTUP:
        return f"{name} changes how programs start"
    for prefix, why in PREFIXES.items():
        if name.startswith(prefix):
            return why
    return None


def refusal(name: str, what: str) -> str | None:
    """The message for a `what` ("config var", "secret") named `name`, or None when allowed."""
    reason = reserved_reason(name)
    return None if reason is None else f"{what} {name} is reserved: {reason} ({RULE})"
