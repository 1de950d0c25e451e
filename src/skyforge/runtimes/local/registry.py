"""On-disk record of what runs, so a restarted control plane can adopt it.

`run/instances/<id>.json` describes one running instance (pid, start time, port, and the whole
AppRelease to restart it); `run/apps/<key>.json` is the release serving traffic for a key.
An AppRelease holds every config var and secret value, so it is stored only sealed (the
`Sealer`: the secrets' master keys), bound to its file's name; the rest stays readable to the
operator. Files are 0600 in 0700 directories, written atomically. A record of an older version
(the AppRelease in plaintext) is still read, and written again sealed at once.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skyforge.adapters.crypto.blobs import sealed_bytes_of
from skyforge.kernel.errors import SkyforgeError
from skyforge.runtimes.base import AppRelease, ProcessType, Sealer

_UNREADABLE = (OSError, ValueError, KeyError, TypeError, binascii.Error, SkyforgeError)


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
        "boot_timeout": app.boot_timeout,
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
        boot_timeout=data.get("boot_timeout"),
    )


class Registry:
    def __init__(self, run_dir: Path, sealer: Sealer | None = None) -> None:
        """`run_dir` is <data dir>/run; without a `sealer` the data dir's own key file seals
        (bootstrap gives the one of the configured master keys)."""
        self._instances = run_dir / "instances"
        self._apps = run_dir / "apps"
        self._sealer = sealer or sealed_bytes_of(run_dir.parent)

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
            "app": self._seal(record.app, _instance_binding(record.id)),
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
                        app=self._open(data["app"], _instance_binding(data["id"])),
                        type=data["type"],
                        index=int(data["index"]),
                        port=data["port"],
                        pid=int(data["pid"]),
                        start_time=int(data["start_time"]),
                        log_path=Path(data["log_path"]),
                    )
                )
            except _UNREADABLE:
                path.unlink(missing_ok=True)
                continue
            if "sealed" not in data["app"]:
                self.save(records[-1])  # written by an older version: seal it now
        return records

    def save_app(self, app: AppRelease) -> None:
        """Remember `app` as the release serving its key."""
        data = {"key": app.key, "app": self._seal(app, _app_binding(app.key))}
        _write_private(self._apps / f"{app.key}.json", data)

    def drop_app(self, key: str) -> None:
        """The key serves nothing any more."""
        (self._apps / f"{key}.json").unlink(missing_ok=True)

    def load_apps(self) -> dict[str, AppRelease]:
        """The serving release of every key."""
        apps = {}
        for path in sorted(self._apps.glob("*.json")):
            try:
                data = json.loads(path.read_text())
                if "sealed" not in data.get("app", {}):  # written by an older version
                    app = app_from_json(data)
                    self.save_app(app)
                else:
                    app = self._open(data["app"], _app_binding(data["key"]))
            except _UNREADABLE:
                path.unlink(missing_ok=True)
                continue
            apps[app.key] = app
        return apps

    def clear(self) -> None:
        """Forget everything."""
        for directory in (self._instances, self._apps):
            for path in directory.glob("*.json"):
                path.unlink(missing_ok=True)

    # -- the master keys ---------------------------------------------------------------------

    def key_ids(self) -> set[str]:
        """The master keys the records are sealed under."""
        found = set()
        for path in [*self._instances.glob("*.json"), *self._apps.glob("*.json")]:
            with contextlib.suppress(*_UNREADABLE):
                sealed = json.loads(path.read_text())["app"]["sealed"]
                found.add(self._sealer.key_id(base64.b64decode(sealed)))
        return found

    def reseal(self) -> int:
        """Write every record again, sealed under the active master key; how many."""
        records, apps = self.load(), self.load_apps()
        for record in records:
            self.save(record)
        for app in apps.values():
            self.save_app(app)
        return len(records) + len(apps)

    def _seal(self, app: AppRelease, binding: bytes) -> dict[str, str]:
        plain = json.dumps(app_to_json(app)).encode()
        return {"sealed": base64.b64encode(self._sealer.seal(plain, binding)).decode()}

    def _open(self, doc: dict[str, Any], binding: bytes) -> AppRelease:
        if "sealed" not in doc:
            return app_from_json(doc)  # written by an older version
        plain = self._sealer.open(base64.b64decode(doc["sealed"], validate=True), binding)
        return app_from_json(json.loads(plain))


def _instance_binding(instance_id: str) -> bytes:
    return f"run/instances/{instance_id}".encode()


def _app_binding(key: str) -> bytes:
    return f"run/apps/{key}".encode()


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
