"""Which stack a source tree is, and which processes it runs: pure functions over a snapshot.

`scan` is the only function here that reads files; everything else works on the `SourceTree`
it returns, so detection is tested without a disk.
"""

from __future__ import annotations

import ast
import json
import os
import re
import stat
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from skyforge.adapters.builders.static_server import Root
from skyforge.kernel.errors import StepFailed

# Read at most this much of a marker file: they are small, and a huge one is not our problem.
MAX_READ = 1 << 20
MARKERS = ("Procfile", "requirements.txt", "pyproject.toml", "package.json", "index.html")
PY_ENTRYPOINTS = ("app.py", "wsgi.py", "main.py")
READ = ("Procfile", "requirements.txt", "pyproject.toml", "package.json", *PY_ENTRYPOINTS)
OTHER = ("package-lock.json", "server.js")

_PROCFILE_LINE = re.compile(r"^([a-z0-9_-]+)\s*:\s*(.*)$")
_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class SourceTree:
    """The few files of an app's root that detection looks at: name -> text (None: not read)."""

    files: dict[str, str | None] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        """Whether the root of the app has a regular file of that name."""
        return name in self.files

    def text(self, name: str) -> str:
        """The content of a marker file, empty when absent."""
        return self.files.get(name) or ""


@dataclass(frozen=True)
class Detection:
    stack: str  # "python", "node", "static" or "procfile"
    procfile: dict[str, str] | None  # process types of the Procfile, when there is one
    manifest: str | None = None  # python: "requirements.txt" or "pyproject.toml"


def scan(app_dir: Path) -> SourceTree:
    """Snapshot the marker files at the root of app_dir (regular files inside it only)."""
    files: dict[str, str | None] = {}
    # Opened the way the static server opens a file: a link out of the tree (to /etc/shadow...)
    # is neither read nor reported, whatever it was swapped for since the build began.
    root = Root(str(app_dir))
    try:
        for name in (*MARKERS, *PY_ENTRYPOINTS, *OTHER):
            found = root.open([name])
            if found is None:
                continue
            with os.fdopen(found[0], "rb") as handle:
                if stat.S_ISREG(found[1].st_mode):
                    raw = handle.read(MAX_READ) if name in READ else None
                    files[name] = None if raw is None else raw.decode("utf-8", errors="replace")
    finally:
        root.close()
    return SourceTree(files)


def detect(tree: SourceTree) -> Detection:
    """Detect the stack: a Procfile sets the commands, the language decides what to install."""
    procfile = parse_procfile(tree.text("Procfile")) if tree.has("Procfile") else None
    if tree.has("requirements.txt"):
        return Detection("python", procfile, "requirements.txt")
    if tree.has("pyproject.toml"):
        return Detection("python", procfile, "pyproject.toml")
    if tree.has("package.json"):
        return Detection("node", procfile)
    if procfile is not None:
        return Detection("procfile", procfile)
    if tree.has("index.html"):
        return Detection("static", None)
    raise StepFailed(
        "no supported app detected: add a Procfile, requirements.txt, pyproject.toml, "
        "package.json or index.html"
    )


def parse_procfile(text: str) -> dict[str, str]:
    """Parse `name: command` lines; blank lines and # comments are ignored."""
    processes: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _PROCFILE_LINE.match(line)
        if not match or not match.group(2).strip():
            raise StepFailed(
                f"Procfile line {number}: expected 'name: command' with a name of "
                "lowercase letters, digits, '_' or '-'"
            )
        name, command = match.group(1), match.group(2).strip()
        if name in processes:
            raise StepFailed(f"Procfile line {number}: process type '{name}' is defined twice")
        processes[name] = command
    return processes


def python_requirements(tree: SourceTree) -> set[str]:
    """Normalized names of the packages an app declares (requirements.txt or pyproject)."""
    names: list[str] = []
    if tree.has("requirements.txt"):
        for line in tree.text("requirements.txt").splitlines():
            if not line.strip().startswith(("#", "-")):
                match = _REQUIREMENT_NAME.match(line)
                if match:
                    names.append(match.group(1))
    elif tree.has("pyproject.toml"):
        try:
            project = tomllib.loads(tree.text("pyproject.toml")).get("project", {})
        except tomllib.TOMLDecodeError:
            project = {}
        for spec in project.get("dependencies", []) if isinstance(project, dict) else []:
            match = _REQUIREMENT_NAME.match(str(spec))
            if match:
                names.append(match.group(1))
    return {re.sub(r"[-_.]+", "-", name).lower() for name in names}


def defines_app(source: str) -> bool:
    """Whether a module defines a top-level `app` (assignment, def, class or import)."""
    try:
        with warnings.catch_warnings():  # invalid escapes in user code warn; not our concern
            warnings.simplefilter("ignore")
            module = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return re.search(r"^app\s*[:=]", source, re.MULTILINE) is not None
    return any(_binds_app(node) for node in module.body)


def _binds_app(node: ast.stmt) -> bool:
    if isinstance(node, ast.Assign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return any(isinstance(t, ast.Name) and t.id == "app" for t in targets)
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return node.name == "app"
    if isinstance(node, ast.Import | ast.ImportFrom):
        return any((alias.asname or alias.name) == "app" for alias in node.names)
    return False


def python_web(tree: SourceTree) -> str | None:
    """The default web command of a Python app, or None when none can be inferred."""
    declared = python_requirements(tree)
    module = next(
        (name[:-3] for name in PY_ENTRYPOINTS if tree.has(name) and defines_app(tree.text(name))),
        None,
    )
    if module and "gunicorn" in declared:
        return f"gunicorn --bind 0.0.0.0:$PORT {module}:app"
    if module and "uvicorn" in declared:
        return f"uvicorn {module}:app --host 0.0.0.0 --port $PORT"
    script = next((name for name in ("app.py", "main.py") if tree.has(name)), None)
    return f"python {script}" if script else None


def node_scripts(tree: SourceTree) -> dict[str, str]:
    """The "scripts" of package.json (empty when missing or malformed)."""
    try:
        package = json.loads(tree.text("package.json") or "{}")
    except json.JSONDecodeError as exc:
        raise StepFailed(f"package.json is not valid JSON: {exc}") from None
    scripts = package.get("scripts") if isinstance(package, dict) else None
    if not isinstance(scripts, dict):
        return {}
    return {str(k): str(v) for k, v in scripts.items()}
