"""Envelope encryption with keys from the environment (no I/O)."""

from __future__ import annotations

import base64
import dataclasses

import pytest

from skyforge.adapters.crypto.envelope import EnvelopeVault
from skyforge.adapters.crypto.keyring import EnvKeyring, key_id
from skyforge.kernel.errors import Conflict
from skyforge.secrets.model import SecretUnreadable, binding

OLD, NEW = base64.b64encode(b"\x01" * 32).decode(), base64.b64encode(b"\x02" * 32).decode()
ROW = binding("project", "API_KEY", 1)


def test_a_value_is_sealed_under_a_fresh_data_key_and_opens_again() -> None:
    vault = EnvelopeVault(EnvKeyring(OLD))
    one, two = vault.seal(b"hunter2-secret", ROW), vault.seal(b"hunter2-secret", ROW)

    assert vault.open(one, ROW) == b"hunter2-secret"
    assert one.ciphertext != two.ciphertext and one.wrapped_key != two.wrapped_key
    assert b"hunter2" not in one.ciphertext + one.wrapped_key + one.nonce
    assert (one.key_id, len(one.nonce), len(one.wrapped_key)) == (key_id(b"\x01" * 32), 12, 60)


@pytest.mark.parametrize(
    "other",
    [
        binding("other", "API_KEY", 1),
        binding("project", "API_KEYS", 1),
        binding("project", "API_KEY", 2),
    ],
)
def test_a_ciphertext_moved_to_another_row_does_not_open(other: bytes) -> None:
    vault = EnvelopeVault(EnvKeyring(OLD))
    with pytest.raises(SecretUnreadable):
        vault.open(vault.seal(b"value", ROW), other)


@pytest.mark.parametrize("field", ["ciphertext", "wrapped_key", "nonce"])
def test_a_tampered_row_does_not_open(field: str) -> None:
    vault = EnvelopeVault(EnvKeyring(OLD))
    sealed = vault.seal(b"value", ROW)
    flipped = bytearray(getattr(sealed, field))
    flipped[-1] ^= 1
    with pytest.raises(SecretUnreadable):
        vault.open(dataclasses.replace(sealed, **{field: bytes(flipped)}), ROW)


def test_a_value_sealed_under_an_unknown_master_key_does_not_open() -> None:
    sealed = EnvelopeVault(EnvKeyring(OLD)).seal(b"value", ROW)
    with pytest.raises(SecretUnreadable, match="not configured"):
        EnvelopeVault(EnvKeyring(NEW)).open(sealed, ROW)


def test_with_a_new_key_both_read_and_rewrapping_moves_only_the_data_key() -> None:
    sealed = EnvelopeVault(EnvKeyring(OLD)).seal(b"value", ROW)
    rotating = EnvelopeVault(EnvKeyring(OLD, NEW))

    rewrapped = rotating.rewrap(sealed, ROW)

    assert rotating.rotate() == rotating.active_key_id() == key_id(b"\x02" * 32)
    assert rewrapped.key_id == rotating.active_key_id() != sealed.key_id
    assert (rewrapped.ciphertext, rewrapped.nonce) == (sealed.ciphertext, sealed.nonce)
    assert EnvelopeVault(EnvKeyring(NEW)).open(rewrapped, ROW) == b"value"
    assert rotating.rewrap(rewrapped, ROW) is rewrapped
    assert rotating.retire({rewrapped.key_id}) == (sealed.key_id,)


def test_without_a_new_key_in_the_environment_there_is_nothing_to_rotate_to() -> None:
    with pytest.raises(Conflict, match="SKYFORGE_MASTER_KEY_NEW"):
        EnvelopeVault(EnvKeyring(OLD)).rotate()
