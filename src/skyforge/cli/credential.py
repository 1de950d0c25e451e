"""A git credential helper: answers git's `get` for SkyForge's git URLs with the CLI's token.

`skyforge git:remote` sets it as `credential.<remote URL>.helper` (an absolute path, which git
runs as it is), so `git push skyforge` authenticates with SKYFORGE_TOKEN or the saved login and
no token is ever written into `.git/config`. Run as `python -m skyforge.cli.credential get`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

import httpx

from skyforge.cli.client import Api
from skyforge.cli.config import Config, load_config

USERNAME = "skyforge"  # git push deploys take any user name


def origin(url: str) -> tuple[str, str]:
    """(scheme, host[:port]) as git names them in a credential request."""
    parsed = httpx.URL(url)
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    return parsed.scheme, host if parsed.port is None else f"{host}:{parsed.port}"


def read_request(lines: Iterable[str]) -> dict[str, str]:
    """git's `key=value` lines up to the first blank one."""
    request: dict[str, str] = {}
    for line in lines:
        line = line.rstrip("\n")
        if not line:
            break
        key, sep, value = line.partition("=")
        if sep:
            request[key] = value
    return request


def _token(config: Config) -> str | None:
    if config.token:
        return config.token
    if config.session is None:
        return None
    if config.session.expiring():
        with Api(config) as api:
            api.refresh()  # saves the new pair, as every command does
            return api.session.access_token if api.session else None
    return config.session.access_token


def answer(request: dict[str, str], config: Config) -> dict[str, str] | None:
    """The credentials for `request`, or None when it is not for this SkyForge (or no login)."""
    try:
        ours = origin(config.url)
    except httpx.InvalidURL:
        return None
    if (request.get("protocol"), request.get("host")) != ours:
        return None  # never hand the token to another host
    token = _token(config)
    return None if token is None else {"username": USERNAME, "password": token}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args != ["get"]:
        return 0  # `store` and `erase`: nothing is stored, so nothing to do
    request = read_request(sys.stdin)
    try:
        found = answer(request, load_config())
    except Exception:  # whatever failed, git asks its next helper (or the user) instead
        print("skyforge: no SkyForge login for git: run `skyforge login`", file=sys.stderr)
        return 1
    if found is not None:
        sys.stdout.write("".join(f"{k}={v}\n" for k, v in found.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
