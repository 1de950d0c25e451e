"""The access tokens' signing keys in the composition root: the signer, whose private keys are
stored only sealed under the secrets' master keys (kept by a rotation, resealed after it)."""

from __future__ import annotations

from collections.abc import Callable

from skyforge.adapters.crypto.blobs import SealedBytes
from skyforge.adapters.crypto.jwt import JwtSigner
from skyforge.adapters.crypto.keyring import KeyringError
from skyforge.adapters.sql.uow import SqlUnitOfWork
from skyforge.identity.handlers.sessions import reseal_signing_keys
from skyforge.secrets.ports import Vault


class SigningKeysWiring:
    """Built by Platform: the JWT signer over the vault, and the signing keys' master keys."""

    def __init__(self, uow: Callable[[], SqlUnitOfWork], vault: Vault) -> None:
        self.uow = uow
        self.blobs = SealedBytes(vault)
        self.signer = JwtSigner(self.blobs)

    async def key_ids_in_use(self) -> set[str]:
        """The master keys the sealed signing keys need (a rotation must keep them)."""
        async with self.uow() as uow:
            found = await uow.signing_keys.all()
        return {self.blobs.key_id(k.sealed_private_jwk) for k in found}

    async def reseal(self) -> int:
        """After a master key rotation: every signing key under the new master key."""
        return await reseal_signing_keys(self.uow(), self.signer)

    async def check_keys(self, held: set[str]) -> None:
        """Refuse to start when signing keys need a master key this instance lacks."""
        missing = sorted(await self.key_ids_in_use() - held)
        if missing:
            raise KeyringError(
                f"the access tokens' signing keys are sealed under master key(s) "
                f"{', '.join(missing)} which this instance does not have"
            )
