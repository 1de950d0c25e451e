"""The event feed on NATS JetStream: the relay publishes here; consumers read from here.

- Publishing (`send`): one envelope at a time to `<prefix>.<project>.<type>`, header
  `Nats-Msg-Id` = envelope id, awaiting JetStream's ack before the next, so a retry can never
  overtake an earlier event. The stream's duplicate window drops a re-published id.
- `consume(group, ...)`: one durable pull consumer per group, shared by every replica, with
  max_ack_pending 1: each event goes to one replica of the group at a time, in stream order, and
  is acked only after the handler succeeded (else nak with backoff; after `max_deliver`
  attempts the event is given up with an error log).
- `broadcast(...)`: a plain subscription on `<prefix>.>` in every process: live, no replay, and
  a re-published event may come twice (broadcast handlers are idempotent).

The connection retries forever in the background: while NATS is away `send` accepts nothing,
so the relay keeps the rows and backs off.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.client import JetStreamContext
from nats.js.errors import BadRequestError, FetchTimeoutError, NotFoundError

from skyforge.adapters.nats.subjects import check_name, check_prefix, durable_of, subject_of
from skyforge.kernel.stream import Envelope, EnvelopeHandler

log = logging.getLogger(__name__)


class NatsFeed:
    def __init__(
        self,
        url: str,
        *,
        stream: str = "SKYFORGE",
        prefix: str = "skyforge",
        duplicate_window: float = 600.0,
        max_age: float = 7 * 24 * 3600.0,
        ack_wait: float = 30.0,
        max_deliver: int = 8,
        publish_timeout: float = 5.0,
        name: str = "skyforge",
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        self.url = url
        self.stream = check_name(stream)
        self.prefix = check_prefix(prefix)
        self.duplicate_window = duplicate_window
        self.max_age = max_age
        self.ack_wait = ack_wait
        self.max_deliver = max_deliver
        self.publish_timeout = publish_timeout
        self.name = name
        self.on_ready = on_ready  # called when (re)connected: the relay resumes at once
        self._groups: dict[str, list[EnvelopeHandler]] = {}
        self._broadcast: list[EnvelopeHandler] = []
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # -- the port ----------------------------------------------------------------------------

    def consume(self, group: str, handler: EnvelopeHandler) -> None:
        durable_of(group)  # a bad group name fails at registration, not in the background
        self._groups.setdefault(group, []).append(handler)

    def broadcast(self, handler: EnvelopeHandler) -> None:
        self._broadcast.append(handler)

    # -- the relay's sink --------------------------------------------------------------------

    async def send(self, envelopes: Sequence[Envelope]) -> int:
        """Publish in order, each acknowledged before the next; how many were stored."""
        js = self._js
        if js is None or not self._ready.is_set() or self._nc is None or not self._nc.is_connected:
            return 0
        for count, envelope in enumerate(envelopes):
            try:
                await js.publish(
                    subject_of(self.prefix, envelope.subject, envelope.type),
                    json.dumps(envelope.to_json()).encode(),
                    timeout=self.publish_timeout,
                    stream=self.stream,
                    headers={"Nats-Msg-Id": envelope.id},
                )
            except Exception as exc:
                log.warning("publishing event %s to NATS failed: %r", envelope.id, exc)
                return count
        return len(envelopes)

    # -- life cycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect in the background (retrying until NATS answers); returns at once."""
        if not self._tasks:
            self._tasks.append(asyncio.create_task(self._connect(), name="nats-connect"))

    async def wait_ready(self, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout)
        return self._ready.is_set()

    @property
    def connected(self) -> bool:
        return self._ready.is_set() and self._nc is not None and self._nc.is_connected

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for _ in range(100):
            # Again and again: Python 3.11's wait_for (inside nats-py's connect loop) can
            # swallow a cancellation that lands as a connection attempt fails.
            pending = [t for t in tasks if not t.done()]
            if not pending:
                break
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=0.1)
        for task in tasks:
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: never "exception was never retrieved"
        nc, self._nc, self._js = self._nc, None, None
        self._ready.clear()
        if nc is not None:
            with contextlib.suppress(Exception):
                await nc.close()

    async def _connect(self) -> None:
        delay = 0.2
        while True:
            try:
                nc = await nats.connect(
                    self.url,
                    name=self.name,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    connect_timeout=2,
                    error_cb=self._on_error,
                    reconnected_cb=self._on_reconnected,
                )
                break
            except Exception as exc:
                log.warning("NATS at %s does not answer yet: %r", self._safe_url(), exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        self._nc = nc
        js = nc.jetstream()
        while True:
            try:
                await self._ensure_stream(js)
                break
            except Exception as exc:
                log.warning("creating the JetStream stream %s failed: %r", self.stream, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        for group in self._groups:
            sub = None
            with contextlib.suppress(Exception):  # else the consumer's loop binds it later
                sub = await self._bind(js, durable_of(group))  # before ready: no event missed
            task = asyncio.create_task(self._consume(js, group, sub), name=f"nats-{group}")
            self._tasks.append(task)
        if self._broadcast:
            await nc.subscribe(f"{self.prefix}.>", cb=self._on_broadcast)
            await nc.flush()  # the server knows the subscription before we say we are ready
        self._js = js
        self._ready.set()
        await self._on_reconnected()

    def _safe_url(self) -> str:
        return self.url.split("@")[-1]  # never log credentials in the URL

    async def _on_error(self, exc: Exception) -> None:
        log.debug("NATS: %r", exc)

    async def _on_reconnected(self) -> None:
        if self.on_ready is not None:
            self.on_ready()

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        config = StreamConfig(
            name=self.stream,
            subjects=[f"{self.prefix}.>"],
            storage=StorageType.FILE,
            duplicate_window=self.duplicate_window,
            max_age=self.max_age,
        )
        try:
            await js.add_stream(config)
        except BadRequestError:
            await js.update_stream(config)  # it exists with other settings: take ours

    # -- consumers ---------------------------------------------------------------------------

    async def _consume(
        self, js: JetStreamContext, group: str, sub: JetStreamContext.PullSubscription | None
    ) -> None:
        durable = durable_of(group)
        handlers = self._groups[group]
        while True:
            try:
                if sub is None:
                    sub = await self._bind(js, durable)
                msgs = await sub.fetch(1, timeout=2.0)
            except (FetchTimeoutError, TimeoutError):
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("consumer %s waits for NATS: %r", durable, exc)
                sub = None  # the consumer may be gone with a server without its store
                await asyncio.sleep(0.5)
                continue
            for msg in msgs:
                try:
                    await self._handle(group, handlers, msg)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the ack got lost: the event comes again (idempotent)
                    log.warning("consumer %s could not acknowledge: %r", durable, exc)

    async def _bind(self, js: JetStreamContext, durable: str) -> JetStreamContext.PullSubscription:
        try:
            await js.consumer_info(self.stream, durable)
        except NotFoundError:
            # Created by the first replica: from then on, not the stream's history.
            await js.add_consumer(
                self.stream,
                ConsumerConfig(
                    durable_name=durable,
                    deliver_policy=DeliverPolicy.NEW,
                    ack_policy=AckPolicy.EXPLICIT,
                    ack_wait=self.ack_wait,
                    max_deliver=self.max_deliver,
                    max_ack_pending=1,  # in order across replicas
                    filter_subject=f"{self.prefix}.>",
                ),
            )
        return await js.pull_subscribe_bind(durable, self.stream)

    async def _handle(self, group: str, handlers: list[EnvelopeHandler], msg: Msg) -> None:
        try:
            envelope = Envelope.from_json(json.loads(msg.data))
        except Exception:
            log.error("consumer %s dropped a malformed message on %s", group, msg.subject)
            await msg.term()
            return
        try:
            for handler in handlers:
                await handler(envelope)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await msg.nak()  # stopping: another replica takes it now
            raise
        except Exception:
            attempt = msg.metadata.num_delivered or 1
            if attempt >= self.max_deliver:
                log.exception("consumer %s gave up on event %s", group, envelope.id)
                await msg.term()
            else:
                log.warning("consumer %s failed on event %s", group, envelope.id, exc_info=True)
                # Back off here, holding the message (nothing else of the group flows meanwhile,
                # max_ack_pending is 1), then hand it back; kept under ack_wait, so it is not
                # redelivered behind our back, and independent of the server's nak-delay support.
                await asyncio.sleep(min(self.ack_wait / 3, 0.2 * 2**attempt))
                await msg.nak()
            return
        await msg.ack_sync()

    async def _on_broadcast(self, msg: Msg) -> None:
        try:
            envelope = Envelope.from_json(json.loads(msg.data))
        except Exception:
            return  # not one of ours
        for handler in self._broadcast:
            try:
                await handler(envelope)
            except Exception:
                log.exception("broadcast handler failed", extra={"event": envelope.type})

    async def check(self) -> str:
        """For readiness: "ok" when connected and the stream is there."""
        if not self.connected or self._js is None:
            return "unavailable"
        try:
            await self._js.stream_info(self.stream)
        except Exception as exc:
            return type(exc).__name__
        return "ok"

    def info(self) -> dict[str, Any]:
        return {"stream": self.stream, "prefix": self.prefix, "connected": self.connected}
