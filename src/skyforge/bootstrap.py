"""The composition root: picks adapters and runtimes, builds the bus, starts the workers."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from skyforge.adapters.builders.stack import StackBuilder
from skyforge.adapters.crypto.blobs import SealedBytes
from skyforge.adapters.crypto.passwords import Argon2Hasher
from skyforge.adapters.datadir_lock import DataDirInUse as DataDirInUse  # for `skyforge up`
from skyforge.adapters.datadir_lock import DataDirLock
from skyforge.adapters.ratelimit import (
    RedisRateLimiter,
)
from skyforge.adapters.sql.engine import make_engine, migrate
from skyforge.adapters.sql.idempotency import SqlIdempotencyStore
from skyforge.adapters.sql.jobs import SqlJobStore
from skyforge.adapters.sql.login_attempts import SqlLoginCounters
from skyforge.adapters.sql.uow import SqlUnitOfWork
from skyforge.bootstrap_adapters import (
    build_limits,
    edge_of,
    limiter_of,
    login_throttle_of,
    oidc_of,
    records_of,
    runtime_of,
    sandbox_of_settings,
)
from skyforge.bootstrap_cache import CacheWiring
from skyforge.bootstrap_databases import DatabasesWiring
from skyforge.bootstrap_domains import DomainsWiring
from skyforge.bootstrap_events import EventsWiring
from skyforge.bootstrap_git import GitWiring
from skyforge.bootstrap_identity import SigningKeysWiring
from skyforge.bootstrap_logs import LogsWiring
from skyforge.bootstrap_secrets import SecretsWiring
from skyforge.bootstrap_sources import SourcesWiring
from skyforge.bootstrap_webhooks import CONSUMER_GROUP, WebhooksWiring, event_types
from skyforge.builds import handlers as builds
from skyforge.builds.model import Build
from skyforge.config import Settings
from skyforge.databases.events import DatabaseRequested
from skyforge.deploys import handlers as deploys
from skyforge.deploys.commands import CancelDeploy, RequestDeploy, RestartService, RollBack
from skyforge.deploys.events import DeployQueued, ReleaseCreated
from skyforge.deploys.model import Deploy
from skyforge.deploys.ports import BuildRef, ServiceRef, SourceOverride
from skyforge.domains.events import DomainAdded, DomainRemoved, DomainVerified
from skyforge.edge.book import RouteBook
from skyforge.identity.commands import (
    AddMember,
    ChangeMember,
    CreateToken,
    Invite,
    RemoveMember,
    RevokeToken,
    SignUp,
)
from skyforge.identity.handlers import accounts, members, tokens
from skyforge.identity.settings import IdentitySettings
from skyforge.kernel.bus import MessageBus
from skyforge.kernel.errors import NotFound
from skyforge.kernel.logs import LogSink
from skyforge.kernel.messages import Command, Event
from skyforge.observability.metrics import PlatformMetrics, measured_builds
from skyforge.projects import handlers as projects
from skyforge.projects import queries as project_queries
from skyforge.projects.commands import CreateProject, DeleteProject
from skyforge.projects.events import ProjectCreated
from skyforge.runtimes.deployer import RuntimeDeployer
from skyforge.secrets.events import SecretChanged
from skyforge.services import handlers as services
from skyforge.services.commands import CreateService, DeleteService, SetConfigVars, UpdateService
from skyforge.services.events import (
    ConfigVarsChanged,
    ServiceCreated,
    ServiceDeleted,
    ServiceUpdated,
)
from skyforge.services.model import Service
from skyforge.services.ports import ProjectRef
from skyforge.workers.deploy_log import DeployLogWriter
from skyforge.workers.edge_watch import EdgeWatch
from skyforge.workers.jobs import JobRunner
from skyforge.workers.reconciler import Desired, DomainFeed, Reconciler

log = logging.getLogger(__name__)


def service_ref(s: Service) -> ServiceRef:
    return ServiceRef(
        s.id,
        s.project,
        s.name,
        s.source.url,
        s.source.branch,
        dict(s.config),
        dict(s.scale),
        s.health_check_path,
        dict(s.resources),
        s.config_version,
        s.withhold_secrets,
        s.boot_timeout,
        s.maintenance,
    )


def build_ref(b: Build) -> BuildRef:
    return BuildRef(b.id, b.slug_dir or "", dict(b.process_types), dict(b.env))


def private_dir(path: Path) -> None:
    """The data dir, for this user alone (0700): everything SkyForge keeps is in it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)


class SealedPart(Protocol):
    """Stored values sealed under the secrets' master keys, outside the secrets' own tables."""

    async def key_ids_in_use(self) -> set[str]: ...
    async def reseal(self) -> int: ...
    async def check_keys(self, held: set[str]) -> None: ...


@dataclass
class ServiceLocks:
    """One lock per service, shared by deploys and the reconciler (in this process)."""

    locks: defaultdict[str, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))

    def __call__(self, service_id: str) -> asyncio.Lock:
        return self.locks[service_id]


class Platform:
    """Everything wired together; `start()` brings the background parts up."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        private_dir(settings.data_dir)
        self.engine = make_engine(settings.db_url)
        self.secrets = SecretsWiring(settings, self.uow)
        vault = self.secrets.vault
        self.edge = RouteBook(edge_of(settings))
        self.sandbox = sandbox_of_settings(settings)
        self.runtime = runtime_of(settings, self.edge, self.sandbox, SealedBytes(vault))
        self.locks = ServiceLocks()
        self.domains = DomainsWiring(settings, self.uow)
        self.git = GitWiring(settings, self.uow, vault, self._send)
        self.webhooks = WebhooksWiring(settings, self.uow, vault)
        self.sources = SourcesWiring(
            settings, self.uow, vault, self.webhooks.policy, self.git.repos.path
        )
        self.logs = LogsWiring(settings, self.uow, self.runtime, vault)
        self.signing = SigningKeysWiring(self.uow, vault)
        self.records = records_of(settings, SealedBytes(vault))
        self.store = SqlJobStore(self.engine)
        self.databases = DatabasesWiring(
            settings, self.uow, vault, self._send, lambda: self.jobs.wake()
        )
        # Idempotency-Key answers, kept sealed for 24 h (they may show a secret once).
        self.idempotency = SqlIdempotencyStore(self.engine, SealedBytes(vault))
        # Everything else sealed under the master keys: kept by a rotation, resealed after it,
        # checked at start.
        self.sealed: tuple[SealedPart, ...] = (
            self.webhooks,
            self.git,
            self.sources,
            self.logs,
            self.signing,
            self.records,
            self.idempotency,
        )
        for part in self.sealed:
            self.databases.other_keys.append(part.key_ids_in_use)
            self.databases.after_rotation.append(part.reseal)
        self.jobs = JobRunner(
            self.store, {deploys.JOB_KIND: _DeployJob(self), **self.databases.jobs()}
        )
        self.metrics = PlatformMetrics(self.engine, self.edge, self.jobs.handlers)
        self.reconciler = Reconciler(
            self._desired,
            self.runtime,
            self.edge.set_service_routes,
            self.locks,
            interval=settings.reconcile_interval,
            rollout_timeout=settings.rollout_timeout,
            secret_values=self.secrets.values,
            domains=DomainFeed(
                self.domains.hosts, self.domains.tokens, self.edge.set_verification_tokens
            ),
            repair_edge=self.edge.repair,
        )
        self.pipeline = deploys.Pipeline(
            uow=self.uow,
            service_by_id=self._service_by_id,
            run_build=measured_builds(self.metrics, self._run_build),
            get_build=self._get_build,
            deployer=RuntimeDeployer(
                self.runtime, settings.release_timeout, settings.rollout_timeout
            ),
            service_lock=self.locks,
            release_timeout=settings.release_timeout,
            rollout_timeout=settings.rollout_timeout,
            secret_refs=self.secrets.refs,
            secret_values=self.secrets.values,
        )
        self.identity = IdentitySettings(issuer=settings.api_url, admin_email=settings.admin_email)
        self.oidc = oidc_of(settings)
        self.hasher = Argon2Hasher()
        self.signer = self.signing.signer
        self.limiter = limiter_of(settings)
        self.login_throttle = login_throttle_of(
            settings, self.limiter, SqlLoginCounters(self.engine)
        )
        self.bus = MessageBus(self._commands(), self._events())
        # The event stream: consumers register with `feed` before start(); the relay feeds it.
        self.stream = EventsWiring(settings, self.engine)
        self.feed = self.stream.feed
        self.webhooks.known(event_types())
        self.feed.consume(CONSUMER_GROUP, self.webhooks.on_envelope)
        # Hot reads (tokens, roles, projects, services), dropped by the events of every process.
        self.cache = CacheWiring(settings, self.uow, self.signer, self.identity)
        self.feed.broadcast(self.cache.on_envelope)
        self.metrics.registry.register(self.cache.stats)
        self.edge_watch = EdgeWatch(self.edge.state, self.edge.repair)
        self.started = False
        self.data_dir_lock = DataDirLock(settings.data_dir)
        # Set when the server stops: open streams (logs -f, SSE, deploy logs, git) end.
        self.stopping = asyncio.Event()

    # -- wiring -----------------------------------------------------------------------------

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, self._published)

    async def _published(self, events: list[Event]) -> None:
        if events:
            self.stream.wake()  # the outbox has new rows: relay them now
            # Before the handlers, so no replica serves the old state a moment longer; after
            # them too, since they may write more without events (a new project's owner).
            await self.cache.committed(events)
        await self.bus.publish(events)
        if events:
            await self.cache.committed(events)

    async def _send(self, command: Command) -> Any:
        return await self.bus.handle(command)

    def _commands(self) -> dict[type, Callable[[Any], Any]]:
        s = self.settings
        return {
            CreateProject: lambda c: projects.create_project(c, self.uow()),
            DeleteProject: lambda c: projects.delete_project(c, self.uow()),
            CreateService: lambda c: services.create_service(
                c, self.uow(), self._find_project, self.sources.deps
            ),
            UpdateService: lambda c: services.update_service(
                c, self.uow(), self.process_types, s.max_instances, self.sources.deps
            ),
            DeleteService: lambda c: services.delete_service(c, self.uow()),
            SetConfigVars: lambda c: services.set_config_vars(c, self.uow()),
            RequestDeploy: lambda c: deploys.request_deploy(c, self.uow(), self._find_service),
            RollBack: lambda c: deploys.roll_back(c, self.uow(), self._find_service),
            RestartService: lambda c: deploys.restart_service(c, self.uow(), self._find_service),
            CancelDeploy: lambda c: deploys.cancel_deploy(c, self.uow(), self._find_service),
            Invite: lambda c: accounts.invite(c, self.uow(), self.identity),
            SignUp: lambda c: accounts.sign_up(c, self.uow(), self.hasher),
            CreateToken: lambda c: tokens.create_token(c, self.uow()),
            RevokeToken: lambda c: tokens.revoke_token(c, self.uow()),
            AddMember: lambda c: members.add_member(c, self.uow(), self.project_id_of),
            ChangeMember: lambda c: members.change_member(c, self.uow(), self.project_id_of),
            RemoveMember: lambda c: members.remove_member(c, self.uow(), self.project_id_of),
            **self.secrets.commands(),
            **self.databases.commands(),
            **self.domains.commands(),
            **self.git.commands(),
            **self.webhooks.commands(),
            **self.logs.commands(),
        }

    def _events(self) -> dict[type[Event], list[Callable[[Any], Any]]]:
        async def wake_jobs(_e: Event) -> None:
            self.jobs.wake()

        async def wake_reconciler(_e: Event) -> None:
            self.reconciler.wake()

        async def refresh_routes(_e: Event) -> None:
            # Before the request answers: a removed domain is no longer routed when it does.
            await self.reconciler.refresh_routes()

        return {
            DeployQueued: [wake_jobs],
            DatabaseRequested: [wake_jobs],
            ConfigVarsChanged: [
                lambda e: deploys.on_config_changed(e, self.uow(), self._service_by_id)
            ],
            ServiceCreated: [wake_reconciler],
            ProjectCreated: [lambda e: members.on_project_created(e, self.uow())],
            ServiceUpdated: [wake_reconciler],
            ServiceDeleted: [wake_reconciler, self.git.on_service_deleted],
            ReleaseCreated: [
                lambda e: services.on_release_created(e, self.uow(), self._release_config)
            ],
            SecretChanged: [lambda e: deploys.on_secret_changed(e, self.uow(), self._services_of)],
            DomainAdded: [refresh_routes],
            DomainVerified: [refresh_routes],
            DomainRemoved: [refresh_routes],
        }

    # -- ports filled with other contexts' queries --------------------------------------------

    async def project_id_of(self, name: str) -> str | None:
        async with self.uow() as uow:
            project = await uow.projects.get(name)
        return None if project is None else project.id

    async def _find_project(self, name: str) -> ProjectRef:
        project = await project_queries.get_project(name, self.uow())
        env = project.environment()
        assert env is not None
        return ProjectRef(project.id, project.name, env.id)

    async def _find_service(self, project: str, name: str) -> ServiceRef:
        async with self.uow() as uow:
            service = await uow.services.get(project, name)
        if service is None:
            raise NotFound(f"no service named {name!r} in project {project!r}")
        return service_ref(service)

    async def _service_by_id(self, service_id: str) -> ServiceRef | None:
        async with self.uow() as uow:
            service = await uow.services.by_id(service_id)
        return None if service is None else service_ref(service)

    async def _services_of(self, project: str, name: str | None) -> list[ServiceRef]:
        """The services a secret change concerns: the one named, or all of the project."""
        async with self.uow() as uow:
            if name is not None:
                found = [s for s in [await uow.services.get(project, name)] if s is not None]
            else:
                found = [s for s in await uow.services.all() if s.project == project]
        return [service_ref(s) for s in found]

    async def process_types(self, service_id: str) -> set[str] | None:
        async with self.uow() as uow:
            release = await uow.releases.current(service_id)
            build = await uow.builds.get(release.build_id) if release else None
        return None if build is None else set(build.process_types) - {"release"}

    async def build_commits(self, build_ids: set[str]) -> dict[str, str | None]:
        """The commit each build was made from (None when unknown or gone)."""
        async with self.uow() as uow:
            builds = {i: await uow.builds.get(i) for i in sorted(build_ids)}
        return {i: b.commit if b else None for i, b in builds.items()}

    async def _release_config(self, release_id: str) -> dict[str, str] | None:
        async with self.uow() as uow:
            release = await uow.releases.get(release_id)
        return None if release is None else dict(release.config)

    async def _get_build(self, build_id: str) -> BuildRef | None:
        async with self.uow() as uow:
            build = await uow.builds.get(build_id)
        return None if build is None or build.status != "succeeded" else build_ref(build)

    async def _run_build(
        self, service: ServiceRef, log: LogSink, source: SourceOverride | None = None
    ) -> BuildRef:
        s = self.settings
        data = s.data_dir.resolve()
        url, branch, commit = service.git_url, service.branch, None
        if source is not None:
            url, branch, commit = source.git_url, source.branch or branch, source.commit
        build = await builds.run_build(
            builds.BuildRequest(service.id, service.project, service.name, url, branch, commit),
            log,
            self.uow(),
            await self.sources.fetcher(service.id, url),
            StackBuilder(
                jail=self.sandbox.jail(service.key, build_limits(s).for_builds(service.resources))
            ),
            builds.BuildSettings(data / "slugs", data / "cache", s.clone_timeout, s.build_timeout),
        )
        return build_ref(build)

    async def _desired(self, service_id: str | None) -> list[Desired]:
        async with self.uow() as uow:
            if service_id is None:
                found = await uow.services.all()
            else:
                one = await uow.services.by_id(service_id)
                found = [one] if one else []
            result = []
            for service in found:
                release = await uow.releases.current(service.id)
                build = await uow.builds.get(release.build_id) if release else None
                result.append(
                    Desired(service_ref(service), release, build_ref(build) if build else None)
                )
        return result

    # -- life cycle --------------------------------------------------------------------------

    async def start(self, *, background: bool = True) -> str | None:
        """Migrate, make sure an admin token exists; start router, runtime and workers.

        Returns the admin token when it was generated now (to print once). With `background`,
        first takes the data dir (DataDirInUse: another process runs on it).
        """
        if background:
            self.data_dir_lock.acquire()
        await migrate(
            self.engine, self.settings.data_dir.resolve(), SealedBytes(self.secrets.vault)
        )
        await self.secrets.check_keys()
        held = self.secrets.vault.key_ids()
        await self.databases.check_keys(held)
        for part in self.sealed:
            await part.check_keys(held)
        await self.sources.seal_plaintext()
        token = await accounts.ensure_admin(self.settings.admin_token, self.uow(), self.identity)
        if background:
            await self.edge.start()
            self.edge_watch.start()
            await self.runtime.start()
            self.reconciler.start()
            self.jobs.start()
            self.databases.start()
            await self.stream.start()
            self.webhooks.start()
            self.logs.start()
        self.started = background
        return token

    async def stop(self) -> None:
        """Stop workers, then everything that runs (apps, router)."""
        if self.started:
            for part in (
                self.stream,
                self.webhooks,
                self.logs,
                self.databases,
                self.jobs,
                self.reconciler,
                self.edge_watch,
            ):
                try:  # one part failing to stop must not leave the others running
                    await part.stop()
                except Exception:
                    log.exception("stopping %s failed", type(part).__name__)
            await self.runtime.close()
            await self.edge.close()
        if self.oidc is not None:
            await self.oidc.client.aclose()
        if isinstance(self.limiter, RedisRateLimiter):
            await self.limiter.aclose()
        await self.cache.aclose()
        await self.engine.dispose()
        self.data_dir_lock.release()  # last: nothing of this process touches the data dir now


class _DeployJob:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    async def run(self, subject_id: str) -> None:
        async with DeployLogWriter(self.platform.uow, subject_id) as log:

            async def masked_values(service: ServiceRef, refs: dict[str, int]) -> dict[str, str]:
                values = await self.platform.secrets.values(service, refs)
                log.mask(values.values())  # before any process of the release sees them
                return values

            pipeline = replace(self.platform.pipeline, secret_values=masked_values)
            before = await self._deploy(subject_id)
            await deploys.execute_deploy(subject_id, log, pipeline)
        self.platform.reconciler.wake()
        after = await self._deploy(subject_id)
        if after is not None and after.finished and not (before and before.finished):
            # Counted here, once, by the process that ran it.
            self.platform.metrics.deploy_finished(
                after.status, after.kind, after.started_at, after.finished_at
            )

    async def _deploy(self, subject_id: str) -> Deploy | None:
        async with self.platform.uow() as uow:
            return await uow.deploys.get(subject_id)

    async def should_cancel(self, subject_id: str) -> bool:
        async with self.platform.uow() as uow:
            deploy = await uow.deploys.get(subject_id)
        return deploy is not None and deploy.cancel_requested
