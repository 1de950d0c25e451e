"""Rate limiting: token buckets in process or in Redis, and a login lockout on top of them."""

from skyforge.adapters.ratelimit.base import (
    Counters,
    Decision,
    RateLimiter,
    Rule,
    digest,
    ip_key,
)
from skyforge.adapters.ratelimit.login import LockoutPolicy, LoginGuard
from skyforge.adapters.ratelimit.memory import MemoryRateLimiter
from skyforge.adapters.ratelimit.redis_backend import RedisRateLimiter

__all__ = [
    "Counters",
    "Decision",
    "LockoutPolicy",
    "LoginGuard",
    "MemoryRateLimiter",
    "RateLimiter",
    "RedisRateLimiter",
    "Rule",
    "digest",
    "ip_key",
]
