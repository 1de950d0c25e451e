"""`skyforge up`: the control plane, portal and edge router in one process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from pydantic import ValidationError
from rich.console import Console

from skyforge.api import deadlines
from skyforge.api.app import create_app
from skyforge.bootstrap import DataDirInUse, Platform
from skyforge.config import Settings
from skyforge.observability import logging as structured
from skyforge.observability import tracing

GRACEFUL_SECONDS = 5  # requests in flight get this long once stopping; streams end at once


async def serve(settings: Settings, console: Console, log_format: str = "json") -> None:
    """Start everything, serve until SIGTERM/SIGINT, then stop everything started."""
    platform = Platform(settings)
    tracing.instrument_engine(platform.engine)
    try:
        token = await platform.start()
        app = create_app(platform)
        config = uvicorn.Config(
            app,
            host=settings.api_host,
            port=settings.api_port,
            log_level=settings.log_level.lower(),
            log_config=None,  # uvicorn's loggers print through the structured handler
            lifespan="off",
            access_log=structured.access_log_wanted(log_format, settings.log_level),
            http=deadlines.protocol(settings.header_timeout, settings.body_timeout),
            timeout_graceful_shutdown=GRACEFUL_SECONDS,
        )
        server = _Server(config)
        signals = _Signals(server, platform, console)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, signals.received)
        serving = asyncio.create_task(server.serve())
        while not server.started and not serving.done():  # noqa: ASYNC110 (uvicorn has no event)
            await asyncio.sleep(0.05)
        if serving.done():
            await serving  # raises why it could not start (e.g. port taken)
            return
        _announce(console, settings, token)
        _announce_sandbox(console, platform.sandbox.enabled, platform.sandbox.check())
        stopping = asyncio.create_task(platform.stopping.wait())
        await asyncio.wait([serving, stopping], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        signals.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
    finally:
        await platform.stop()
    console.print("SkyForge stopped.")


class _Signals:
    """The first SIGTERM/SIGINT stops gracefully: open streams end, requests in flight get
    GRACEFUL_SECONDS, apps their stop grace. A second one stops serving at once."""

    def __init__(self, server: uvicorn.Server, platform: Platform, console: Console) -> None:
        self.server, self.platform, self.console = server, platform, console
        self.count = 0

    def received(self) -> None:
        self.count += 1
        if self.count == 1:
            self.stop()
        elif not self.server.force_exit:
            self.console.print("Stopping now: open requests are cut; apps are still stopped.")
            self.server.force_exit = True

    def stop(self) -> None:
        if not self.platform.stopping.is_set():
            grace = self.platform.settings.stop_grace
            self.console.print(
                f"Stopping SkyForge (apps get up to {grace:g} s; Ctrl-C again to hurry) ..."
            )
        self.platform.stopping.set()
        self.server.should_exit = True


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # `serve` handles SIGTERM/SIGINT itself: it must stop the apps and router too.
        yield


def _announce(console: Console, s: Settings, token: str | None) -> None:
    console.print(f"SkyForge is up (data in {s.data_dir.resolve()})")
    console.print(f"  API:     {s.api_url}/api/v1   (OpenAPI: {s.api_url}/openapi.json)")
    console.print(f"  Portal:  {s.api_url}/")
    console.print(f"  Apps:    http://<service>.<project>.localhost:{s.edge_port}/")
    if token:
        console.print(f"  Admin token (shown once, stored hashed): [bold]{token}[/bold]")
    console.print(f"  Log in:  {program()} login --url {s.api_url} --token <admin token>")


def _announce_sandbox(console: Console, enabled: bool, problem: str | None) -> None:
    if not enabled:
        console.print(
            "  [yellow]Sandbox: off (SKYFORGE_SANDBOX=off): apps and builds run unconfined, "
            "as this user[/yellow]"
        )
    elif problem is not None:
        console.print(
            f"  [red]Sandbox: cannot be set up ({problem}): no build or app will start; "
            "see docs/security.md[/red]"
        )
    else:
        console.print("  Sandbox: every build and app in bubblewrap, as its service's own uid")


def program(argv0: str | None = None) -> str:
    """How to call this very program again: its name when PATH finds it, else its full path
    (e.g. /srv/skyforge/.venv/bin/skyforge after `make up`)."""
    started_as = Path(argv0 if argv0 is not None else sys.argv[0])
    found = shutil.which(started_as.name)
    if found is not None and Path(found).resolve() == started_as.resolve():
        return started_as.name
    return str(started_as.absolute())


def settings_help() -> str:
    """Every setting as NAME=default and its meaning, from the Settings model."""
    lines = ["Settings (environment variables, shown with their defaults):", ""]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        shown = "" if default is None or default == [] else str(default).lower()
        if isinstance(default, Path | str):
            shown = str(default)
        lines.append(f"  SKYFORGE_{name.upper()}={shown}")
        lines.extend(
            textwrap.wrap(
                field.description or "", 76, initial_indent=" " * 6, subsequent_indent=" " * 6
            )
        )
    return "\n".join(lines) + "\n"


def run() -> None:
    # Everything this process and its children (SQLite, Caddy, git, builds) create in the
    # data dir is for its user alone, whatever the umask it was started with.
    os.umask(0o077)
    console = Console(highlight=False, soft_wrap=True)  # a token must stay on one line
    try:
        settings = Settings()
    except ValidationError as exc:
        console.print(f"[red]SkyForge could not start: {settings_problems(exc)}[/red]")
        raise SystemExit(1) from None
    log_format = structured.resolve_format(settings.log_format)
    structured.configure(settings.log_level, log_format)
    tracing.configure()  # only when OTEL_EXPORTER_OTLP_ENDPOINT is set
    try:
        asyncio.run(serve(settings, console, log_format))
    except DataDirInUse as exc:
        console.print(f"[red]SkyForge could not start: {exc}[/red]")
        raise SystemExit(1) from None
    except OSError as exc:
        console.print(f"[red]SkyForge could not start: {exc}[/red]")
        raise SystemExit(1) from exc
    finally:
        tracing.shutdown()  # the spans still batched leave before the process does


def settings_problems(exc: ValidationError) -> str:
    """What is wrong with the settings, by variable, without the values (they may be secrets)."""
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        name = "SKYFORGE_" + "_".join(str(part) for part in error["loc"]).upper()
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(message if message.startswith(name) else f"{name}: {message}")
    return "; ".join(problems)
