"""Envelope encryption with AES-256-GCM: a fresh data key per value, wrapped by a master key.

Stored per value: the master key's id, the wrapped data key (nonce + ciphertext + tag), the
value's nonce and its ciphertext + tag. Both layers authenticate the row they belong to
(associated data), so neither a ciphertext nor a wrapped key can be moved to another row.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from skyforge.adapters.crypto.keyring import Keyring, MasterKey
from skyforge.secrets.model import Sealed, SecretUnreadable

NONCE_BYTES = 12  # 96 bits: random nonces are safe, each data key encrypts one value only


def _value_aad(binding: bytes) -> bytes:
    return b"value\x00" + binding


def _key_aad(key_id: str, binding: bytes) -> bytes:
    return b"data-key\x00" + key_id.encode() + b"\x00" + binding


class EnvelopeVault:
    """The secrets context's Vault port over a keyring of master keys."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    def seal(self, plaintext: bytes, binding: bytes) -> Sealed:
        master = self.keyring.active()
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(data_key).encrypt(nonce, plaintext, _value_aad(binding))
        return Sealed(master.id, self._wrap(master, data_key, binding), nonce, ciphertext)

    def open(self, sealed: Sealed, binding: bytes) -> bytes:
        data_key = self._unwrap(sealed, binding)
        try:
            return AESGCM(data_key).decrypt(sealed.nonce, sealed.ciphertext, _value_aad(binding))
        except (InvalidTag, ValueError) as exc:
            raise SecretUnreadable("a stored secret value failed its integrity check") from exc

    def rewrap(self, sealed: Sealed, binding: bytes) -> Sealed:
        master = self.keyring.active()
        if sealed.key_id == master.id:
            return sealed
        data_key = self._unwrap(sealed, binding)
        wrapped = self._wrap(master, data_key, binding)
        return Sealed(master.id, wrapped, sealed.nonce, sealed.ciphertext)

    def active_key_id(self) -> str:
        return self.keyring.active().id

    def key_ids(self) -> set[str]:
        """The master keys this vault holds."""
        return self.keyring.ids()

    def rotate(self) -> str:
        return self.keyring.rotate().id

    def retire(self, in_use: set[str]) -> tuple[str, ...]:
        return self.keyring.retire(in_use)

    @staticmethod
    def _wrap(master: MasterKey, data_key: bytes, binding: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + AESGCM(master.material).encrypt(
            nonce, data_key, _key_aad(master.id, binding)
        )

    def _unwrap(self, sealed: Sealed, binding: bytes) -> bytes:
        master = self.keyring.get(sealed.key_id)
        if master is None:
            raise SecretUnreadable(f"the master key {sealed.key_id} is not configured")
        nonce, body = sealed.wrapped_key[:NONCE_BYTES], sealed.wrapped_key[NONCE_BYTES:]
        try:
            return AESGCM(master.material).decrypt(nonce, body, _key_aad(master.id, binding))
        except (InvalidTag, ValueError) as exc:
            raise SecretUnreadable("a stored data key failed its integrity check") from exc
