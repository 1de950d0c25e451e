"""git smart HTTP: `git push skyforge main` builds and deploys; clone and fetch work too.

`http://HOST:API_PORT/git/{project}/{service}.git`, HTTP Basic with any user name and a
SkyForge token as the password. A push of the service's branch deploys the pushed commit: the
build and rollout output comes back as `remote:` lines, and a failed deploy rejects the push
(and rewinds the branch), so `git push` exits non-zero.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from skyforge.adapters.git import pktline
from skyforge.adapters.git.smart_http import SERVICES, GitRun, service_header
from skyforge.api.errors import problem
from skyforge.api.streams import Check, guarded, refusal
from skyforge.bootstrap import Platform
from skyforge.deploys import queries as deploy_queries
from skyforge.deploys.commands import RequestDeploy
from skyforge.kernel import context
from skyforge.kernel.errors import Invalid, SkyforgeError, Unauthorized
from skyforge.services import queries as service_queries

router = APIRouter(prefix="/git/{project}/{service}.git", tags=["git"], include_in_schema=False)
MAX_PUSH_BYTES = 1 << 30  # a request body, decompressed
KEEPALIVE_SECONDS = 5.0
NO_CACHE = {"Cache-Control": "no-cache, max-age=0, must-revalidate", "Expires": "0"}


def _basic_token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    _user, sep, password = decoded.partition(":")
    return password.strip() or None if sep else None


def _challenge(detail: str) -> Response:
    response = problem(401, "Unauthorized", detail)
    response.headers["WWW-Authenticate"] = 'Basic realm="SkyForge"'
    return response


async def _allowed(request: Request, project: str, action: str) -> Response | None:
    """None when the Basic password is a token allowed `action` in `project`; else the 401."""
    platform: Platform = request.app.state.platform
    token = _basic_token(request)
    if token is None:
        return _challenge("use any user name and a SkyForge token as the password")
    try:
        principal = await platform.cache.authenticate(token)  # as the API does (cached)
    except Unauthorized as exc:
        return _challenge(exc.detail)
    ctx = context.current.get()
    if ctx is not None:
        ctx.actor_id, ctx.actor, ctx.via = principal.user_id, principal.email, principal.via
    await platform.cache.authorize(principal, project, action)
    return None


def _still_allowed(request: Request, project: str, action: str) -> Check:
    """What `_allowed` checked, to check again while a response lasts (see api/streams.py)."""
    platform: Platform = request.app.state.platform

    async def check() -> None:
        principal = await platform.cache.authenticate(_basic_token(request) or "")
        await platform.cache.authorize(principal, project, action)

    return check


def _action(service: str) -> str:
    if service not in SERVICES:
        raise Invalid("only git smart HTTP is served: ?service=git-upload-pack|git-receive-pack")
    return "service.deploy" if service == "git-receive-pack" else "service.read"


async def _body(request: Request) -> AsyncIterator[bytes]:
    """The request body, gunzipped when git compressed it, bounded."""
    gzip = request.headers.get("content-encoding", "").lower() in ("gzip", "x-gzip")
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
    total = 0
    async for chunk in request.stream():
        data = inflate.decompress(chunk) if inflate else chunk
        total += len(data)
        if total > MAX_PUSH_BYTES:
            raise Invalid(f"the request is larger than {MAX_PUSH_BYTES} bytes")
        if data:
            yield data
    if inflate:
        yield inflate.flush()


@router.get("/info/refs")
async def info_refs(project: str, service: str, request: Request) -> Response:
    """The ref advertisement git asks for before it fetches or pushes."""
    wanted = request.query_params.get("service", "")
    refused = await _allowed(request, project, _action(wanted))
    if refused is not None:
        return refused
    platform: Platform = request.app.state.platform
    found = await service_queries.get_service(project, service, platform.uow())  # 404 if none
    # Created on first sight, for a clone too: an empty repository clones as empty.
    path = await platform.git.repos.ensure(project, service, found.source.branch)
    body = service_header(wanted) + await platform.git.repos.advertise(path, wanted)
    return Response(body, media_type=f"application/x-{wanted}-advertisement", headers=NO_CACHE)


@router.post("/git-upload-pack")
async def upload_pack(project: str, service: str, request: Request) -> Response:
    """Clone and fetch."""
    refused = await _allowed(request, project, "service.read")
    if refused is not None:
        return refused
    platform: Platform = request.app.state.platform
    found = await service_queries.get_service(project, service, platform.uow())
    path = await platform.git.repos.ensure(project, service, found.source.branch)
    run = await platform.git.repos.start(path, "git-upload-pack")
    try:
        await run.write_all(_body(request))
    except BaseException:
        run.kill()
        raise
    check = _still_allowed(request, project, "service.read")
    body = guarded(
        _drain(run), check, platform.settings.stream_recheck_seconds, stopping=platform.stopping
    )
    return StreamingResponse(
        body, media_type="application/x-git-upload-pack-result", headers=NO_CACHE
    )


async def _drain(run: GitRun) -> AsyncIterator[bytes]:
    try:
        while chunk := await run.read():
            yield chunk
        await run.wait()
    finally:
        run.kill()


@router.post("/git-receive-pack")
async def receive_pack(project: str, service: str, request: Request) -> Response:
    """A push: store it, and when it updates the service's branch, deploy it."""
    refused = await _allowed(request, project, "service.deploy")
    if refused is not None:
        return refused
    platform: Platform = request.app.state.platform
    found = await service_queries.get_service(project, service, platform.uow())
    path = await platform.git.repos.ensure(project, service, found.source.branch)
    run = await platform.git.repos.start(path, "git-receive-pack")
    commands = pktline.PushCommands()
    packets: asyncio.Queue[bytes | None] = asyncio.Queue()
    pump = asyncio.create_task(_pump(run, packets))

    async def body() -> AsyncIterator[bytes]:
        async for chunk in _body(request):
            commands.feed(chunk)
            yield chunk

    try:
        await run.write_all(body())
    except BaseException:
        pump.cancel()
        run.kill()
        raise
    check = _still_allowed(request, project, "service.deploy")
    push = _Push(platform, project, service, found.id, found.source.branch, path, commands, check)
    return StreamingResponse(
        push.respond(run, packets, pump),
        media_type="application/x-git-receive-pack-result",
        headers=NO_CACHE,
    )


async def _pump(run: GitRun, packets: asyncio.Queue[bytes | None]) -> None:
    """git's raw output, chunk by chunk, into the queue (read at once: a full pipe would
    stall git while the request body is still being written)."""
    try:
        while chunk := await run.read():
            await packets.put(chunk)
    finally:
        await packets.put(None)


class _Push:
    """One push's response: git's own output, then the deploy's, then the (rewritten) status."""

    def __init__(
        self,
        platform: Platform,
        project: str,
        service: str,
        service_id: str,
        branch: str,
        path: Path,
        commands: pktline.PushCommands,
        check: Check,
    ) -> None:
        self.platform, self.project, self.service = platform, project, service
        self.service_id, self.branch, self.path, self.commands = service_id, branch, path, commands
        self.check = check  # the pusher's access, checked again while the deploy's output flows

    async def respond(
        self, run: GitRun, packets: asyncio.Queue[bytes | None], pump: asyncio.Task[None]
    ) -> AsyncIterator[bytes]:
        sideband = self.commands.sideband
        status = bytearray()
        reader = pktline.PktReader()
        try:
            while (chunk := await packets.get()) is not None:
                if not sideband:
                    status += chunk
                    continue
                for packet in reader.feed(chunk):
                    if packet is None:
                        continue  # git's closing flush: ours comes after the deploy
                    if packet[:1] == b"\x01":
                        status += packet[1:]
                    else:
                        yield pktline.pkt(packet)  # progress (2) and errors (3) as they come
            await run.wait()
        finally:
            pump.cancel()
            run.kill()
        refused: dict[str, str] = {}
        update = self._deploy_update(bytes(status))
        if update is not None:
            ok = False
            try:
                async for item in self._deploy(update):
                    if isinstance(item, bool):
                        ok = item
                    elif sideband:
                        yield item
            except SkyforgeError as exc:  # e.g. the service was deleted meanwhile
                if sideband:
                    yield pktline.progress(f" !     Push rejected: {exc.detail}")
            if not ok:
                await self.platform.git.repos.update_ref(
                    self.path, update.ref, update.old, update.new
                )
                refused[update.ref] = "deploy failed"
        else:
            for u in self.commands.updates:
                if u.ref.startswith("refs/heads/") and not u.deleted and sideband:
                    yield pktline.progress(
                        f"SkyForge deploys {self.branch} of {self.service}; "
                        f"{u.ref.removeprefix('refs/heads/')} is stored only"
                    )
        final = pktline.rewrite_status(bytes(status), refused) if refused else bytes(status)
        yield pktline.band(1, final) + pktline.FLUSH if sideband else final

    def _deploy_update(self, status: bytes) -> pktline.RefUpdate | None:
        ref = f"refs/heads/{self.branch}"
        if ref not in pktline.accepted(status):
            return None
        found = [u for u in self.commands.updates if u.ref == ref and not u.deleted]
        return found[0] if found else None

    async def _deploy(self, update: pktline.RefUpdate) -> AsyncIterator[bytes | bool]:
        """Queue the deploy of the pushed commit, relay its log; True/False at the end."""
        deploy = await self.platform.bus.handle(
            RequestDeploy(
                self.project,
                self.service,
                source_url=str(self.path),
                source_branch=self.branch,
                source_commit=update.new,
            )
        )
        yield pktline.progress(f"-----> Deploying {update.new[:12]} ({self.branch})")
        uow, seq, finished, quiet = self.platform.uow, 0, False, 0.0
        every = self.platform.settings.stream_recheck_seconds
        next_check, shown = time.monotonic() + every, True
        while True:
            if shown and time.monotonic() >= next_check:
                next_check = time.monotonic() + every
                if (lost := await refusal(self.check)) is not None:
                    # The deploy goes on (and a failed one still rewinds the branch below);
                    # only its output is no longer the pusher's to read.
                    shown = False
                    yield pktline.progress(f" !     Output stopped: {lost.detail}")
            batch = await deploy_queries.read_log(deploy.id, seq, 500, uow())
            for number, line in batch:
                seq = number
                if shown:
                    yield pktline.progress(line)
            if batch:
                quiet = 0.0
                continue
            if finished:
                break
            current = await deploy_queries.get_deploy(self.service_id, deploy.id, uow())
            finished = current.finished
            if not finished:
                await asyncio.sleep(0.25)
                quiet += 0.25
                if quiet >= KEEPALIVE_SECONDS:
                    yield pktline.band(1, b"")  # keeps proxies and git's HTTP client waiting
                    quiet = 0.0
        done = await deploy_queries.get_deploy(self.service_id, deploy.id, uow())
        if done.status == "succeeded":
            yield pktline.progress(
                f"-----> Deployed to http://{self.service}.{self.project}."
                f"localhost:{self.platform.settings.edge_port}/"
            )
            yield True
        else:
            yield pktline.progress(f" !     Push rejected: the deploy {done.status}")
            yield False
