"""Wiring of the outgoing webhooks: the SSRF guard, the sealed secrets, the delivery worker.

The webhooks consume the event stream (`Platform.feed`, group "webhooks"): each committed
event becomes a delivery per matching webhook, and the delivery worker sends them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx

from skyforge.adapters.crypto.blobs import SealedBytes
from skyforge.adapters.crypto.keyring import KeyringError
from skyforge.adapters.netguard import GuardedClient, NetworkPolicy, Resolver, check_target
from skyforge.adapters.netguard import system_resolver as default_resolver
from skyforge.adapters.sql.uow import SqlUnitOfWork
from skyforge.config import Settings
from skyforge.kernel.messages import Event
from skyforge.kernel.stream import Envelope
from skyforge.projects import queries as project_queries
from skyforge.secrets.ports import Vault
from skyforge.webhooks import handlers
from skyforge.webhooks.commands import (
    CreateWebhook,
    DeleteWebhook,
    PingWebhook,
    Redeliver,
    RotateWebhookSecret,
    UpdateWebhook,
)
from skyforge.webhooks.dispatch import DeliveryWorker
from skyforge.webhooks.model import RetryPolicy
from skyforge.webhooks.ports import ProjectRef, Response

CONSUMER_GROUP = "webhooks"


def event_types() -> frozenset[str]:
    """Every domain event type the platform knows (each context's events are imported by the
    composition root before this is called)."""
    found: set[str] = set()
    stack: list[type[Event]] = list(Event.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.type != Event.type:
            found.add(cls.type)
    return frozenset(found)


def policy_of(settings: Settings) -> NetworkPolicy:
    return NetworkPolicy.of(settings.webhook_allow_private, settings.webhook_allowed_networks)


class HttpSender:
    """The webhooks' Sender over the SSRF-guarded client: every failure is a reason string."""

    def __init__(
        self, policy: NetworkPolicy, timeout: float, resolver: Resolver = default_resolver
    ) -> None:
        self.policy, self.timeout, self.resolver = policy, timeout, resolver

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> Response:
        client = GuardedClient(self.policy, timeout=self.timeout, resolver=self.resolver)
        try:
            answer = await client.request("POST", url, headers=headers, content=body)
        except TimeoutError:
            return Response(None, f"no answer within {self.timeout:g} s")
        except httpx.ConnectError:
            return Response(None, "the connection was refused or failed")
        except httpx.HTTPError as exc:
            return Response(None, f"HTTP error: {type(exc).__name__}")
        except OSError:
            return Response(None, "the host name does not resolve")
        except Exception as exc:  # TargetRefused (Invalid) and its kin: the detail says why
            return Response(None, f"refused: {getattr(exc, 'detail', type(exc).__name__)}")
        finally:
            await client.aclose()
        if 300 <= answer.status_code < 400:
            return Response(answer.status_code, "redirects other than 307/308 are not followed")
        return Response(answer.status_code)


class WebhooksWiring:
    """Built by Platform: the use cases' dependencies and the delivery worker."""

    def __init__(
        self,
        settings: Settings,
        uow: Callable[[], SqlUnitOfWork],
        vault: Vault,
        resolver: Resolver = default_resolver,
    ) -> None:
        self.uow = uow
        self.policy = policy_of(settings)
        self.resolver = resolver
        retry = RetryPolicy(
            base_seconds=settings.webhook_retry_base_seconds,
            max_attempts=settings.webhook_max_attempts,
        )
        self.blobs = SealedBytes(vault)
        self.deps = handlers.Deps(
            uow=uow,
            cipher=self.blobs,
            check_target=self.check_target,
            find_project=self._find_project,
            known_events=frozenset(),  # filled in `known()`: after every context is imported
            retry=retry,
            wake=lambda: self.worker.wake(),
        )
        self.sender = HttpSender(self.policy, settings.webhook_timeout, resolver)
        self.worker = DeliveryWorker(
            self.deps,
            self.sender,
            poll=min(1.0, settings.webhook_retry_base_seconds),
            lease=timedelta(seconds=settings.webhook_timeout * 3 + 30),
        )

    def known(self, types: frozenset[str]) -> None:
        self.deps.known_events = types | {"webhook.ping"}

    def use(self, policy: NetworkPolicy) -> None:
        """Swap the network policy (the operator's setting; tests tighten it)."""
        self.policy = policy
        self.sender.policy = policy

    def commands(self) -> dict[type, Callable[[Any], Any]]:
        d = self.deps
        return {
            CreateWebhook: lambda c: handlers.create_webhook(c, d),
            UpdateWebhook: lambda c: handlers.update_webhook(c, d),
            DeleteWebhook: lambda c: handlers.delete_webhook(c, d),
            RotateWebhookSecret: lambda c: handlers.rotate_secret(c, d),
            PingWebhook: lambda c: handlers.ping(c, d),
            Redeliver: lambda c: handlers.redeliver(c, d),
        }

    # -- the secrets' master keys -------------------------------------------------------------

    async def key_ids_in_use(self) -> set[str]:
        """The master keys the sealed signing secrets need (a rotation must keep them)."""
        async with self.uow() as uow:
            found = await uow.webhooks.all()
        return {self.blobs.key_id(w.sealed_secret) for w in found}

    async def reseal(self) -> int:
        """After a master key rotation: every signing secret under the new key."""
        return await handlers.reseal_secrets(self.deps)

    async def check_keys(self, held: set[str]) -> None:
        """Refuse to start when signing secrets need a master key this instance lacks."""
        missing = sorted(await self.key_ids_in_use() - held)
        if missing:
            raise KeyringError(
                f"webhook secrets are sealed under master key(s) {', '.join(missing)} "
                "which this instance does not have"
            )

    async def on_envelope(self, envelope: Envelope) -> None:
        """The feed's consumer: deliveries for the event (idempotent)."""
        await handlers.on_event(envelope, self.deps)

    def start(self) -> None:
        self.worker.start()

    async def stop(self) -> None:
        await self.worker.stop()

    # -- the webhooks context's ports ------------------------------------------------------------

    async def check_target(self, url: str) -> str:
        """The SSRF guard at creation: the URL's text, and its addresses if it resolves now."""
        return str(await check_target(url, self.policy, self.resolver))

    async def _find_project(self, name: str) -> ProjectRef:
        project = await project_queries.get_project(name, self.uow())
        return ProjectRef(project.id, project.name)
