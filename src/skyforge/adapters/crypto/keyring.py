"""Master keys of the secrets vault, each with an id so several coexist during a rotation.

Either from the environment (SKYFORGE_MASTER_KEY, plus SKYFORGE_MASTER_KEY_NEW while rotating)
or from a key file in the data dir, created at first start with mode 0600.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from skyforge.kernel.errors import Conflict

KEY_BYTES = 32
FILE_NAME = "master.keys"


class KeyringError(OSError):
    """The master keys are missing, malformed or exposed: SkyForge refuses to start."""

    # An OSError so that `skyforge up` reports it as a start failure, like a port in use.


@dataclass(frozen=True)
class MasterKey:
    id: str
    material: bytes = field(repr=False)


def key_id(material: bytes) -> str:
    """A stable id that tells keys apart and reveals nothing of them (an HMAC under the key)."""
    return "mk-" + hmac.new(material, b"skyforge master key id", hashlib.sha256).hexdigest()[:16]


def master_key(text: str, what: str) -> MasterKey:
    """The key whose base64 is `text`; KeyringError unless it is exactly 32 bytes."""
    try:
        material = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        material = b""
    if len(material) != KEY_BYTES:
        raise KeyringError(f"{what} must be the base64 of 32 bytes (openssl rand -base64 32)")
    return MasterKey(key_id(material), material)


class Keyring(Protocol):
    def active(self) -> MasterKey:
        """The key new data keys are wrapped under."""
        ...

    def get(self, key_id: str) -> MasterKey | None: ...
    def ids(self) -> set[str]: ...
    def rotate(self) -> MasterKey: ...
    def retire(self, in_use: set[str]) -> tuple[str, ...]: ...


class EnvKeyring:
    """SKYFORGE_MASTER_KEY; with SKYFORGE_MASTER_KEY_NEW too, the new key seals and both read."""

    def __init__(self, current: str, new: str | None = None) -> None:
        self._current = master_key(current, "SKYFORGE_MASTER_KEY")
        self._active = master_key(new, "SKYFORGE_MASTER_KEY_NEW") if new else self._current
        self._keys = {k.id: k for k in (self._current, self._active)}

    def active(self) -> MasterKey:
        return self._active

    def get(self, key_id: str) -> MasterKey | None:
        return self._keys.get(key_id)

    def ids(self) -> set[str]:
        return set(self._keys)

    def rotate(self) -> MasterKey:
        """The new key comes from the operator: SKYFORGE_MASTER_KEY_NEW on every replica."""
        if self._active is self._current:
            raise Conflict(
                "the master key comes from SKYFORGE_MASTER_KEY: set the new key as "
                "SKYFORGE_MASTER_KEY_NEW on every replica, restart them, then rotate"
            )
        return self._active

    def retire(self, in_use: set[str]) -> tuple[str, ...]:
        """Keys of the environment cannot be forgotten here: name those the operator may drop."""
        return tuple(sorted(k for k in self._keys if k not in in_use and k != self._active.id))


class FileKeyring:
    """Keys in a JSON file only its owner may read; re-read when another process changed it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._active = ""
        self._keys: dict[str, MasterKey] = {}
        if not path.exists():
            self._create()
        self._reload()

    def active(self) -> MasterKey:
        self._reload()  # a stat: another process may have rotated
        return self._keys[self._active]

    def get(self, key_id: str) -> MasterKey | None:
        if key_id not in self._keys:
            self._reload()
        return self._keys.get(key_id)

    def ids(self) -> set[str]:
        self._reload()
        return set(self._keys)

    def rotate(self) -> MasterKey:
        """Generate a new key and make it active; the old ones stay until retired."""
        with self._locked():
            self._reload()
            new = _generate()
            self._write(new.id, [*self._keys.values(), new])
            self._reload()
        return new

    def retire(self, in_use: set[str]) -> tuple[str, ...]:
        """Remove from the file every key that wraps nothing and is not the active one."""
        with self._locked():
            self._reload()
            gone = tuple(sorted(k for k in self._keys if k not in in_use and k != self._active))
            if gone:
                kept = [key for kid, key in self._keys.items() if kid not in gone]
                self._write(self._active, kept)
                self._reload()
        return gone

    def _create(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        key = _generate()
        tmp = self._private_tmp(_content(key.id, [key]))
        try:
            os.link(tmp, self.path)  # fails when another process created it first: use theirs
            _fsync_dir(self.path.parent)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()

    def _reload(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError as exc:
            raise KeyringError(f"the master key file {self.path} is gone") from exc
        if st.st_mode & 0o077 or st.st_uid != os.getuid():
            raise KeyringError(
                f"the master key file {self.path} may be read by others "
                f"(mode {st.st_mode & 0o777:o}): run `chmod 600 {self.path}` as its owner"
            )
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        self._active, self._keys = _parse(self.path)
        self._stamp = stamp

    def _write(self, active: str, keys: list[MasterKey]) -> None:
        tmp = self._private_tmp(_content(active, keys))
        os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)

    def _private_tmp(self, content: bytes) -> Path:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())  # a lost key loses every secret: it must be on disk
        return tmp

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.path.with_name(f".{self.path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _generate() -> MasterKey:
    material = secrets.token_bytes(KEY_BYTES)
    return MasterKey(key_id(material), material)


def _content(active: str, keys: list[MasterKey]) -> bytes:
    data = {
        "active": active,
        "keys": {k.id: base64.b64encode(k.material).decode() for k in keys},
    }
    return json.dumps(data, indent=2).encode()


def _parse(path: Path) -> tuple[str, dict[str, MasterKey]]:
    try:
        data: Any = json.loads(path.read_bytes())
        keys = {kid: master_key(text, f"key {kid}") for kid, text in data["keys"].items()}
        active = data["active"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise KeyringError(f"the master key file {path} is unreadable: {exc}") from exc
    if any(kid != key.id for kid, key in keys.items()) or active not in keys:
        raise KeyringError(f"the master key file {path} is damaged (key ids do not match)")
    return active, keys


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_keyring(data_dir: Path, key: str | None, new_key: str | None) -> Keyring:
    """The environment's keys when SKYFORGE_MASTER_KEY is set, else the data dir's key file."""
    if key:
        return EnvKeyring(key, new_key)
    if new_key:
        raise KeyringError("SKYFORGE_MASTER_KEY_NEW needs SKYFORGE_MASTER_KEY (the current key)")
    return FileKeyring(data_dir / FILE_NAME)
