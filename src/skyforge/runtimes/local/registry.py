"""On-disk record of what runs, so a restarted control plane can adopt it.

`run/instances/<id>.json` describes one running instance (pid, start time, port, and the whole
AppRelease to restart it); `run/apps/<key>.json` is the release serving traffic for a key.
Both hold config vars (secrets), so files are 0600 in 0700 directories, written atomically.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skyforge.runtimes.base import AppRelease, ProcessType


@dataclass
class InstanceRecord:
    id: str
    app: AppRelease
    type: str
    index: int
    port: int | None  # web only
    pid: int
    start_time: int  # /proc/<pid>/stat field 22: tells a recycled pid apart
    log_path: Path

    @property
    def label(self) -> str:
        """ "web.1"."""
        return f"{self.type}.{self.index}"


def app_to_json(app: AppRelease) -> dict[str, Any]:
    """An AppRelease as plain JSON data."""
    return {
        "key": app.key,
        "hostnames": list(app.hostnames),
        "release_id": app.release_id,
        "version": app.version,
        "slug_dir": str(app.slug_dir),
        "processes": [
            {"name": p.name, "command": p.command, "count": p.count} for p in app.processes
        ],
        "env": dict(app.env),
        "health_check_path": app.health_check_path,
        "release_command": app.release_command,
        "secret_names": sorted(app.secret_names),
        "resources": dict(app.resources),
    }


def app_from_json(data: dict[str, Any]) -> AppRelease:
    """The AppRelease written by app_to_json."""
    return AppRelease(
        key=data["key"],
        hostnames=tuple(data["hostnames"]),
        release_id=data["release_id"],
        version=int(data["version"]),
        slug_dir=Path(data["slug_dir"]),
        processes=tuple(
            ProcessType(p["name"], p["command"], int(p["count"])) for p in data["processes"]
        ),
        env=dict(data["env"]),
        health_check_path=data["health_check_path"],
        release_command=data["release_command"],
        secret_names=frozenset(data.get("secret_names", ())),
        resources={str(k): int(v) for k, v in data.get("resources", {}).items()},
    )


class Registry:
    def __init__(self, run_dir: Path) -> None:
        self._instances = run_dir / "instances"
        self._apps = run_dir / "apps"

    def save(self, record: InstanceRecord) -> None:
        """Write (or overwrite) one instance's record."""
        data = {
            "id": record.id,
            "type": record.type,
            "index": record.index,
            "port": record.port,
            "pid": record.pid,
            "start_time": record.start_time,
            "log_path": str(record.log_path),
            "app": app_to_json(record.app),
        }
        _write_private(self._instances / f"{record.id}.json", data)

    def delete(self, instance_id: str) -> None:
        """Forget one instance."""
        (self._instances / f"{instance_id}.json").unlink(missing_ok=True)

    def load(self) -> list[InstanceRecord]:
        """Every readable record; an unreadable one is deleted."""
        records = []
        for path in sorted(self._instances.glob("*.json")):
            try:
                data = json.loads(path.read_text())
                records.append(
                    InstanceRecord(
                        id=data["id"],
                        app=app_from_json(data["app"]),
                        type=data["type"],
                        index=int(data["index"]),
                        port=data["port"],
                        pid=int(data["pid"]),
                        start_time=int(data["start_time"]),
                        log_path=Path(data["log_path"]),
                    )
                )
            except (OSError, ValueError, KeyError, TypeError):
                path.unlink(missing_ok=True)
        return records

    def save_app(self, app: AppRelease) -> None:
        """Remember `app` as the release serving its key."""
        _write_private(self._apps / f"{app.key}.json", app_to_json(app))

    def drop_app(self, key: str) -> None:
        """The key serves nothing any more."""
        (self._apps / f"{key}.json").unlink(missing_ok=True)

    def load_apps(self) -> dict[str, AppRelease]:
        """The serving release of every key."""
        apps = {}
        for path in sorted(self._apps.glob("*.json")):
            try:
                app = app_from_json(json.loads(path.read_text()))
            except (OSError, ValueError, KeyError, TypeError):
                path.unlink(missing_ok=True)
                continue
            apps[app.key] = app
        return apps

    def clear(self) -> None:
        """Forget everything."""
        for directory in (self._instances, self._apps):
            for path in directory.glob("*.json"):
                path.unlink(missing_ok=True)


def _write_private(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)
    # No fsync: the crash this guards against is the control plane's, and the page cache outlives
    # it; after a power loss every instance is dead anyway and its record moot.
    os.replace(tmp, path)
