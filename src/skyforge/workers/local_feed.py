"""The in-process event feed, used when NATS is not configured (one process, one relay).

The relay hands it each envelope in order; it calls the broadcast handlers (live: a failure is
logged and forgotten) and every consume group's handler. A failing group makes the envelope
unaccepted, so the relay keeps the row and retries it with backoff; groups that already handled
it are not called again (progress per group, in memory: after a restart every group may see the
envelope once more, which the consume contract allows). A group that fails `max_attempts` times
on one envelope gives it up with an error log, so one broken consumer cannot stall the stream
forever (the same bound as the NATS consumers' max_deliver).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence

from skyforge.kernel.stream import Envelope, EnvelopeHandler

log = logging.getLogger(__name__)

_REMEMBER = 10_000  # envelope ids whose per-group progress is kept


class InProcessFeed:
    def __init__(self, max_attempts: int = 8) -> None:
        self.max_attempts = max_attempts
        self._groups: dict[str, list[EnvelopeHandler]] = {}
        self._broadcast: list[EnvelopeHandler] = []
        # envelope id -> (groups done, failed attempts per group)
        self._progress: OrderedDict[str, tuple[set[str], dict[str, int]]] = OrderedDict()

    def consume(self, group: str, handler: EnvelopeHandler) -> None:
        self._groups.setdefault(group, []).append(handler)

    def broadcast(self, handler: EnvelopeHandler) -> None:
        self._broadcast.append(handler)

    async def send(self, envelopes: Sequence[Envelope]) -> int:
        for count, envelope in enumerate(envelopes):
            if not await self._deliver(envelope):
                return count
        return len(envelopes)

    async def _deliver(self, envelope: Envelope) -> bool:
        done, attempts = self._progress.get(envelope.id) or (set(), {})
        first = not done and not attempts
        if first:
            for handler in self._broadcast:
                try:
                    await handler(envelope)
                except Exception:
                    log.exception("broadcast handler failed", extra={"event": envelope.type})
        for group, handlers in self._groups.items():
            if group in done:
                continue
            try:
                for handler in handlers:
                    await handler(envelope)
                done.add(group)
            except Exception:
                attempts[group] = attempts.get(group, 0) + 1
                if attempts[group] >= self.max_attempts:
                    log.error(
                        "consumer group %s gave up on event %s after %d attempts",
                        group,
                        envelope.id,
                        attempts[group],
                        exc_info=True,
                    )
                    done.add(group)
                else:
                    log.warning("consumer group %s failed on event %s", group, envelope.id)
        if len(done) == len(self._groups):
            self._progress.pop(envelope.id, None)
            return True
        self._progress[envelope.id] = (done, attempts)
        while len(self._progress) > _REMEMBER:
            self._progress.popitem(last=False)
        return False
