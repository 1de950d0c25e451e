"""Procfile command -> argv and environment, without a shell.

A command is split like a shell would split words (shlex) and `$NAME`, `${NAME}` and
`${NAME:-default}` are expanded in each word from the instance's environment; that is all.
Shell syntax (`&&`, `|`, `;`, redirections, globs, `$(...)`) is NOT supported: an app that needs
it ships a script and names the script in its Procfile. Not using a shell keeps the process
tree flat (our signals reach the app itself) and leaves no quoting to get wrong.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
from asyncio.subprocess import Process
from pathlib import Path

from skyforge.runtimes.base import AppRelease

DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"

_VAR = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_]\w*)(?::-(?P<default>[^}]*))?\}|(?P<bare>[A-Za-z_]\w*))"
)


class CommandNotFound(Exception):
    """The first word of a command resolves to no executable file."""


def build_env(app: AppRelease, process: str, index: int | None, port: int | None) -> dict[str, str]:
    """The complete environment of one instance, built from scratch (nothing of ours leaks)."""
    env = {"PATH": DEFAULT_PATH, "HOME": str(app.slug_dir), "LANG": "C.UTF-8"}
    env.update(app.env)
    if port is not None:
        env["PORT"] = str(port)
    env["SKYFORGE_PROCESS"] = process if index is None else f"{process}.{index}"
    env["SKYFORGE_RELEASE"] = f"v{app.version}"
    return env


async def spawn_piped(argv: list[str], env: dict[str, str], cwd: Path) -> Process:
    """Start a short-lived process in its own session, stdout and stderr merged into a pipe."""
    return await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # its own group: killed as one, our signals do not reach it
    )


def expand(word: str, env: dict[str, str]) -> str:
    """Replace $NAME, ${NAME} and ${NAME:-default} by their values (unknown: empty)."""

    def value(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("bare")
        found = env.get(name, "")
        default = match.group("default")
        return found if found or default is None else default

    return _VAR.sub(value, word)


def to_argv(command: str, env: dict[str, str], cwd: Path) -> list[str]:
    """Split and expand `command`; resolve its program via env PATH (or cwd for a ./path)."""
    try:
        words = shlex.split(command)
    except ValueError as exc:  # unbalanced quotes
        raise CommandNotFound(f"cannot parse command {command!r}: {exc}") from exc
    argv = [expand(word, env) for word in words]
    if not argv or not argv[0]:
        raise CommandNotFound(f"empty command {command!r}")
    argv[0] = _resolve(argv[0], env.get("PATH", DEFAULT_PATH), cwd)
    return argv


def _resolve(program: str, path: str, cwd: Path) -> str:
    if os.path.isabs(program):
        found: str | None = program if os.access(program, os.X_OK) else None
    elif "/" in program:
        # Relative to the app, not to wherever the control plane happens to run.
        candidate = cwd / program
        found = str(candidate) if os.access(candidate, os.X_OK) else None
    else:
        # Relative PATH entries (".venv/bin", or "" meaning cwd) are relative to the app too.
        entries = [str(cwd / entry) for entry in path.split(os.pathsep)]
        found = shutil.which(program, path=os.pathsep.join(entries))
    if found is None:
        raise CommandNotFound(f"command not found: {program}")
    return found
