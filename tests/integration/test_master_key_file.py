"""The master key file in the data dir: private, shared by the processes that use it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from skyforge.adapters.crypto.envelope import EnvelopeVault
from skyforge.adapters.crypto.keyring import FileKeyring, KeyringError
from skyforge.secrets.model import binding

ROW = binding("p", "A", 1)
CREATE = """
import sys
from pathlib import Path
from skyforge.adapters.crypto.keyring import FileKeyring
print(FileKeyring(Path(sys.argv[1])).active().id)
"""


def test_the_key_file_is_created_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "data" / "master.keys"
    procs = [
        subprocess.Popen([sys.executable, "-c", CREATE, str(path)], stdout=subprocess.PIPE)
        for _ in range(4)
    ]
    ids = {p.communicate()[0].strip() for p in procs}

    assert len(ids) == 1  # processes starting at once agree on one key
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["master.keys"]


def test_a_rotation_by_one_process_is_seen_by_another(tmp_path: Path) -> None:
    path = tmp_path / "master.keys"
    first, second = EnvelopeVault(FileKeyring(path)), EnvelopeVault(FileKeyring(path))
    sealed = first.seal(b"value", ROW)

    new_id = first.rotate()

    assert second.active_key_id() == new_id
    rewrapped = second.rewrap(sealed, ROW)
    assert first.open(rewrapped, ROW) == second.open(sealed, ROW) == b"value"
    assert first.retire({rewrapped.key_id}) == (sealed.key_id,)
    assert list(json.loads(path.read_text())["keys"]) == [new_id]
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_a_damaged_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.keys"
    FileKeyring(path)
    data = json.loads(path.read_text())
    data["active"] = "mk-0000000000000000"
    path.write_text(json.dumps(data))
    with pytest.raises(KeyringError, match="damaged"):
        FileKeyring(path)
    path.write_text("{not json")
    with pytest.raises(KeyringError, match="unreadable"):
        FileKeyring(path)


def test_a_key_file_made_readable_later_is_refused_at_the_next_use(tmp_path: Path) -> None:
    path = tmp_path / "master.keys"
    keyring = FileKeyring(path)
    path.chmod(0o644)
    with pytest.raises(KeyringError, match="chmod 600"):
        keyring.active()
