"""Login lockout: failures per account and per client address, locks that grow but always end."""

from __future__ import annotations

from dataclasses import dataclass

from skyforge.adapters.ratelimit.base import Counters, Decision, digest, ip_key


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """How many failures lock an account or an address, and for how long."""

    # After `account_failures` failures on an account (from anywhere), or `ip_failures` from
    # one address (across accounts), each further failure locks for `first_lock` seconds,
    # doubling up to `max_lock`.

    account_failures: int = 5
    ip_failures: int = 20
    first_lock: float = 60.0
    max_lock: float = 900.0
    forget_after: float = 3600.0  # failures are forgotten this long after the last one

    def __post_init__(self) -> None:
        if min(self.account_failures, self.ip_failures) < 1:
            raise ValueError("the failure thresholds must be at least 1")
        if not 0 < self.first_lock <= self.max_lock or self.forget_after <= 0:
            raise ValueError("need 0 < first_lock <= max_lock and forget_after > 0")

    def lock_for(self, failures: int, threshold: int) -> float:
        """The lock after `failures` failures: none below the threshold, then doubling, capped."""
        if failures < threshold:
            return 0.0
        doublings = min(failures - threshold, 32)  # 2**32 minutes is past any cap
        return min(self.first_lock * 2.0**doublings, self.max_lock)


class LoginGuard:
    """Call check() before verifying a password, then failed() or succeeded()."""

    # While check() refuses, refuse the login without verifying the password and without
    # calling failed(): an attacker then cannot lengthen a lock, so none outlasts `max_lock`.
    # Works on any Counters: Redis, so all API replicas see the same counts, or the database
    # (SqlLoginCounters), so they also outlive a restart; memory only in tests.

    def __init__(self, limiter: Counters, policy: LockoutPolicy | None = None) -> None:
        self._limiter = limiter
        self.policy = policy or LockoutPolicy()

    async def check(self, account: str, ip: str) -> Decision:
        """May this address try a password on this account now (and how many tries are left)."""
        account_key, address_key = _keys(account, ip)
        wait = max(
            await self._limiter.blocked_for(account_key),
            await self._limiter.blocked_for(address_key),
        )
        if wait > 0:
            return Decision(False, wait, 0)
        left = min(
            self.policy.account_failures - await self._limiter.count(account_key),
            self.policy.ip_failures - await self._limiter.count(address_key),
        )
        return Decision(True, 0.0, max(0, left))

    async def failed(self, account: str, ip: str) -> Decision:
        """Count a wrong password; the decision says whether the next try must wait."""
        policy, limiter = self.policy, self._limiter
        account_key, address_key = _keys(account, ip)
        on_account = await limiter.incr(account_key, policy.forget_after)
        on_address = await limiter.incr(address_key, policy.forget_after)
        account_lock = policy.lock_for(on_account, policy.account_failures)
        address_lock = policy.lock_for(on_address, policy.ip_failures)
        if account_lock:
            await limiter.block(account_key, account_lock)
        if address_lock:
            await limiter.block(address_key, address_lock)
        wait = max(account_lock, address_lock)
        left = min(policy.account_failures - on_account, policy.ip_failures - on_address)
        return Decision(wait == 0, wait, max(0, left))

    async def succeeded(self, account: str, ip: str) -> None:
        """Clear the account's failures and lock (not the address's: see below)."""
        # Otherwise an attacker could log into an account of their own between guesses at
        # other people's and never reach the per-address limit.
        account_key, _ = _keys(account, ip)
        await self._limiter.reset(account_key)


def _keys(account: str, ip: str) -> tuple[str, str]:
    # Hashed: account names (emails) are personal data and have no length bound; casefolded
    # so that "Alice@x" and "alice@x" cannot be guessed at separately.
    return "login:account:" + digest(account.strip().casefold()), "login:ip:" + ip_key(ip)
