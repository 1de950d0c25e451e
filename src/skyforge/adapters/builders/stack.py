"""StackBuilder: build Procfile, Python, Node and static apps in place, Heroku-style."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

from skyforge.adapters.builders import static_server
from skyforge.adapters.builders.confine import describe, drop_links_out
from skyforge.adapters.builders.detect import (
    Detection,
    SourceTree,
    detect,
    node_scripts,
    python_web,
    scan,
)
from skyforge.adapters.builders.process import BASE_PATH, clean_env, run_step
from skyforge.adapters.sandbox import Jail, SandboxUnavailable
from skyforge.builds.ports import BuildResult
from skyforge.kernel.errors import StepFailed
from skyforge.kernel.logs import LogSink


def system_python() -> str:
    """The interpreter SkyForge itself runs on, outside any virtualenv."""
    for name in ("python3", "python"):
        candidate = Path(sys.base_prefix) / "bin" / name
        if candidate.is_file():
            return str(candidate)
    return shutil.which("python3") or "/usr/bin/python3"


def find_uv() -> str:
    """The uv shipped with SkyForge (a dependency), else one on PATH."""
    bundled = Path(sys.prefix) / "bin" / "uv"
    return str(bundled) if bundled.is_file() else shutil.which("uv") or "uv"


class StackBuilder:
    """Detects the stack of an app and installs its dependencies into the app dir.

    Every step that runs the app's code (installs run setup scripts and npm hooks) runs in
    `jail`, the sandbox of the app's service, seeing only the app dir and its build cache.
    """

    def __init__(
        self,
        timeout: float = 900.0,
        *,
        jail: Jail | None = None,
        python: str | None = None,
        uv: str | None = None,
        npm: str | None = None,
    ) -> None:
        self.timeout = timeout
        self.jail = jail
        self.python = python or system_python()
        self.uv = uv or find_uv()
        self.npm = npm or shutil.which("npm", path=BASE_PATH) or "npm"

    async def build(self, app_dir: Path, cache_dir: Path, log: LogSink) -> BuildResult:
        """Detect, install, and return the process types and environment of the artifact."""
        app_dir, cache_dir = app_dir.resolve(), cache_dir.resolve()
        started = time.monotonic()
        dropped = drop_links_out(app_dir)
        if dropped:
            log(f"-----> Removed links that lead outside the app: {describe(dropped)}")
        tree = scan(app_dir)
        try:
            found = detect(tree)
        except StepFailed as exc:
            log(f" !     {exc.detail}")
            raise
        log(f"-----> {found.stack.capitalize()} app detected")
        (cache_dir / "home").mkdir(parents=True, exist_ok=True)
        if self.jail is not None:
            await asyncio.to_thread(self.jail.own, app_dir, cache_dir)
        if found.stack == "python":
            result = await self._python(app_dir, cache_dir, tree, found, log)
        elif found.stack == "node":
            result = await self._node(app_dir, cache_dir, tree, found, log)
        elif found.stack == "static":
            result = self._static(app_dir)
        else:
            result = BuildResult("procfile", dict(found.procfile or {}), self._env([]))
        kinds = ", ".join(sorted(result.process_types)) or "none"
        log(f"-----> Discovering process types: {kinds}")
        log(f"-----> Build succeeded in {time.monotonic() - started:.1f} s")
        return result

    def _fail(self, reason: str, log: LogSink) -> BuildResult:
        log(f" !     {reason}")
        raise StepFailed(reason)

    async def _step(
        self,
        argv: list[str],
        what: str,
        log: LogSink,
        env: dict[str, str],
        app_dir: Path,
        cache_dir: Path,
    ) -> None:
        if self.jail is not None:
            tools = [Path(argv[0])]  # uv comes with SkyForge, maybe outside the system dirs
            try:
                argv = self.jail.command(
                    argv, cwd=app_dir, writable=[app_dir, cache_dir], readable=tools
                )
            except SandboxUnavailable as exc:
                self._fail(str(exc), log)
        await run_step(argv, what=what, log=log, env=env, timeout=self.timeout, cwd=app_dir)

    def _env(self, bin_dirs: list[Path]) -> dict[str, str]:
        """PATH of the running app: its own tools first, then the system, then our python."""
        python_dir = str(Path(self.python).parent)
        parts = [str(d) for d in bin_dirs] + BASE_PATH.split(":")
        if python_dir not in parts:
            parts.append(python_dir)
        return {"PATH": ":".join(parts)}

    def _step_env(self, cache_dir: Path, **extra: str) -> dict[str, str]:
        path = self._env([])["PATH"]
        return clean_env({"PATH": path, "HOME": str(cache_dir / "home"), **extra})

    async def _python(
        self, app_dir: Path, cache_dir: Path, tree: SourceTree, found: Detection, log: LogSink
    ) -> BuildResult:
        venv = app_dir / ".venv"
        env = self._step_env(
            cache_dir,
            UV_CACHE_DIR=str(cache_dir / "uv"),
            # The artifact must not share inodes with the cache: a running app writing into its
            # site-packages would corrupt the cache, and pruning the cache must not touch slugs.
            UV_LINK_MODE="copy",
            UV_PYTHON_DOWNLOADS="never",
            UV_NO_PROGRESS="1",
        )
        log(f"-----> Creating virtualenv with {Path(self.python).name} ({self.python})")
        await self._step(
            [self.uv, "venv", str(venv), "--python", self.python],
            "virtualenv creation",
            log,
            env,
            app_dir,
            cache_dir,
        )
        log(f"-----> Installing dependencies with uv from {found.manifest}")
        target = ["-r", "requirements.txt"] if found.manifest == "requirements.txt" else ["."]
        await self._step(
            [self.uv, "pip", "install", "--python", str(venv / "bin" / "python"), *target],
            "pip install",
            log,
            env,
            app_dir,
            cache_dir,
        )
        for lock in (venv / ".lock", cache_dir / "uv" / ".lock"):
            # uv makes its lock files writable by everyone (for a cache users share): ours
            # are this user's alone, like every file in the data dir.
            with contextlib.suppress(FileNotFoundError):
                lock.chmod(0o600)
        processes = dict(found.procfile or {})
        if "web" not in processes:
            web = python_web(tree)
            if web is None and found.procfile is None:
                return self._fail("no web process: add a Procfile", log)
            if web is not None:
                processes["web"] = web
        env_out = self._env([venv / "bin"])
        env_out.update(VIRTUAL_ENV=str(venv), PYTHONUNBUFFERED="1")
        return BuildResult("python", processes, env_out)

    async def _node(
        self, app_dir: Path, cache_dir: Path, tree: SourceTree, found: Detection, log: LogSink
    ) -> BuildResult:
        try:
            scripts = node_scripts(tree)
        except StepFailed as exc:
            return self._fail(exc.detail, log)
        processes = dict(found.procfile or {})
        if "web" not in processes:
            if "start" not in scripts and not tree.has("server.js") and found.procfile is None:
                return self._fail(
                    'no web process: add a "start" script to package.json, a server.js, '
                    "or a Procfile",
                    log,
                )
            if "start" in scripts or tree.has("server.js"):
                processes["web"] = "npm start"
        env = self._step_env(
            cache_dir,
            npm_config_cache=str(cache_dir / "npm"),
            npm_config_update_notifier="false",
        )
        locked = tree.has("package-lock.json")
        command = "ci" if locked else "install"
        log(f"-----> Installing dependencies with npm {command}")
        flags = ["--cache", str(cache_dir / "npm"), "--no-audit", "--no-fund", "--prefer-offline"]
        await self._step(
            [self.npm, command, *flags], f"npm {command}", log, env, app_dir, cache_dir
        )
        if "build" in scripts:
            log("-----> Running npm run build")
            await self._step(
                [self.npm, "run", "build"], "npm run build", log, env, app_dir, cache_dir
            )
        env_out = self._env([app_dir / "node_modules" / ".bin"])
        env_out["npm_config_update_notifier"] = "false"  # `npm start` must not call the registry
        return BuildResult("node", processes, env_out)

    def _static(self, app_dir: Path) -> BuildResult:
        # SkyForge serves static sites itself: its own server, which reads nothing outside the
        # site, copied into the slug (a sandboxed app sees its slug and the system only) and
        # run isolated (-I: no PYTHON* variable, user site or script directory on the path).
        script = install_static_server(app_dir)
        web = f"{shlex.quote(self.python)} -I {shlex.quote(str(script))} $PORT "
        web += shlex.quote(str(app_dir))
        return BuildResult("static", {"web": web}, self._env([]))


def install_static_server(app_dir: Path) -> Path:
    """Copy SkyForge's static file server to <app_dir>/.skyforge/ (whatever the repo put there
    is replaced, never written through); the path of the copy."""
    own = app_dir / ".skyforge"
    if own.is_symlink() or (own.exists() and not own.is_dir()):
        own.unlink()
    elif own.is_dir():
        shutil.rmtree(own)
    own.mkdir()
    own.chmod(0o755)  # whatever the umask: the app's own uid reads it (and cannot change it)
    source = Path(static_server.__file__).read_bytes()
    script = own / "static_server.py"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    with os.fdopen(os.open(script, flags, 0o644), "wb") as handle:
        os.fchmod(handle.fileno(), 0o644)
        handle.write(source)
    return script
