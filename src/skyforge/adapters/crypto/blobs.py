"""The secrets' vault for other stored values: a Sealed packed into one blob, and kept keys."""

from __future__ import annotations

import struct
from pathlib import Path

from skyforge.adapters.crypto.envelope import EnvelopeVault
from skyforge.adapters.crypto.keyring import FILE_NAME, FileKeyring
from skyforge.secrets.model import Sealed
from skyforge.secrets.ports import Vault

_HEAD = struct.Struct(">BHHH")  # format version, then the lengths of key id, wrapped key, nonce


class SealedBytes:
    """Envelope encryption under the secrets' master keys, as bytes (the databases' Cipher)."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault

    def seal(self, plaintext: bytes, binding: bytes) -> bytes:
        s = self.vault.seal(plaintext, binding)
        key_id = s.key_id.encode()
        head = _HEAD.pack(1, len(key_id), len(s.wrapped_key), len(s.nonce))
        return head + key_id + s.wrapped_key + s.nonce + s.ciphertext

    def open(self, sealed: bytes, binding: bytes) -> bytes:
        return self.vault.open(self._parts(sealed), binding)

    def key_id(self, sealed: bytes) -> str:
        return self._parts(sealed).key_id

    @staticmethod
    def _parts(sealed: bytes) -> Sealed:
        _, k, w, n = _HEAD.unpack_from(sealed)
        rest = sealed[_HEAD.size :]
        return Sealed(
            rest[:k].decode(), rest[k : k + w], rest[k + w : k + w + n], rest[k + w + n :]
        )


def sealed_bytes_of(data_dir: Path) -> SealedBytes:
    """Sealing under a data dir's own key file (the master keys when SKYFORGE_MASTER_KEY is
    not set; created at first use)."""
    return SealedBytes(EnvelopeVault(FileKeyring(data_dir / FILE_NAME)))


class KeepingKeys:
    """The vault, but a retirement keeps the master keys other stored blobs still need."""

    def __init__(self, vault: Vault, keep: set[str]) -> None:
        self.vault = vault
        self.keep = keep

    def seal(self, plaintext: bytes, binding: bytes) -> Sealed:
        return self.vault.seal(plaintext, binding)

    def open(self, sealed: Sealed, binding: bytes) -> bytes:
        return self.vault.open(sealed, binding)

    def rewrap(self, sealed: Sealed, binding: bytes) -> Sealed:
        return self.vault.rewrap(sealed, binding)

    def active_key_id(self) -> str:
        return self.vault.active_key_id()

    def rotate(self) -> str:
        return self.vault.rotate()

    def retire(self, in_use: set[str]) -> tuple[str, ...]:
        return self.vault.retire(in_use | self.keep)
