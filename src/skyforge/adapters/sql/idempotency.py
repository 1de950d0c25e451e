"""Idempotency keys in the database, so every replica answers a repeated key the same way.

The answers' bodies may hold secrets shown once (a new token, a webhook's signing secret):
they are kept sealed under the secrets' master keys, bound to their caller and key.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from skyforge.adapters.crypto.blobs import SealedBytes
from skyforge.adapters.crypto.keyring import KeyringError
from skyforge.adapters.sql.tables import idempotency_keys as keys
from skyforge.kernel.clock import now
from skyforge.kernel.idempotency import BUSY, MISMATCH, NEW, Claim, Stored

KEEP = timedelta(hours=24)
# A claim whose request never answered (its process died) stops blocking retries after this.
ABANDONED = timedelta(minutes=10)


def _binding(caller: str, key: str) -> bytes:
    return b"idempotency\x00" + caller.encode() + b"\x00" + key.encode()


class SqlIdempotencyStore:
    def __init__(self, engine: AsyncEngine, cipher: SealedBytes) -> None:
        self.engine, self.cipher = engine, cipher

    async def claim(self, caller: str, key: str, fingerprint: str) -> Claim:
        at = now()
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    delete(keys).where(
                        or_(
                            keys.c.created_at < at - KEEP,
                            and_(keys.c.status.is_(None), keys.c.created_at < at - ABANDONED),
                        )
                    )
                )
                await conn.execute(
                    insert(keys).values(
                        caller=caller, key=key, fingerprint=fingerprint, created_at=at
                    )
                )
            return NEW
        except IntegrityError:
            pass  # used before
        async with self.engine.connect() as conn:
            query = select(keys).where(keys.c.caller == caller, keys.c.key == key)
            row = (await conn.execute(query)).first()
        if row is None or row.status is None:
            # Still running, or released just now (then a retry runs it).
            return MISMATCH if row is not None and row.fingerprint != fingerprint else BUSY
        if row.fingerprint != fingerprint:
            return MISMATCH
        body = self.cipher.open(bytes(row.body), _binding(caller, key)) if row.body else b""
        return Stored(int(row.status), [(str(k), str(v)) for k, v in row.headers or []], body)

    async def complete(self, caller: str, key: str, answer: Stored) -> None:
        sealed = self.cipher.seal(answer.body, _binding(caller, key)) if answer.body else None
        async with self.engine.begin() as conn:
            await conn.execute(
                update(keys)
                .where(keys.c.caller == caller, keys.c.key == key)
                .values(
                    status=answer.status, headers=[list(h) for h in answer.headers], body=sealed
                )
            )

    async def release(self, caller: str, key: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(keys).where(keys.c.caller == caller, keys.c.key == key))

    async def key_ids_in_use(self) -> set[str]:
        """The master keys the kept answers need (a key rotation keeps them)."""
        return {self.cipher.key_id(body) for _c, _k, body in await self._bodies()}

    async def check_keys(self, held: set[str]) -> None:
        """Refuse to start when kept answers need a master key this instance lacks."""
        missing = sorted(await self.key_ids_in_use() - held)
        if missing:
            raise KeyringError(
                f"Idempotency-Key answers are sealed under master key(s) {', '.join(missing)} "
                "which this instance does not have"
            )

    async def reseal(self) -> int:
        """After a master key rotation: every kept answer under the active key; how many."""
        active, count = self.cipher.vault.active_key_id(), 0
        for caller, key, body in await self._bodies():
            if self.cipher.key_id(body) == active:
                continue
            plain = self.cipher.open(body, _binding(caller, key))
            async with self.engine.begin() as conn:
                await conn.execute(
                    update(keys)
                    .where(keys.c.caller == caller, keys.c.key == key)
                    .values(body=self.cipher.seal(plain, _binding(caller, key)))
                )
            count += 1
        return count

    async def _bodies(self) -> list[tuple[str, str, bytes]]:
        async with self.engine.connect() as conn:
            query = select(keys.c.caller, keys.c.key, keys.c.body).where(keys.c.body.is_not(None))
            return [(r.caller, r.key, bytes(r.body)) for r in await conn.execute(query)]
