"""The job runner: claims jobs from the database queue and runs them, each exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from typing import Protocol

from skyforge.adapters.sql.jobs import Job, SqlJobStore
from skyforge.kernel import tracing
from skyforge.kernel.ids import new_id

log = logging.getLogger(__name__)


class JobHandler(Protocol):
    async def run(self, subject_id: str) -> None: ...

    async def should_cancel(self, subject_id: str) -> bool: ...


class JobRunner:
    def __init__(
        self,
        store: SqlJobStore,
        handlers: dict[str, JobHandler],
        *,
        concurrency: int = 4,
        poll: float = 1.0,
    ) -> None:
        self.store = store
        self.handlers = handlers
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{new_id()[-6:]}"
        self.concurrency = concurrency
        self.poll = poll
        self._wake = asyncio.Event()
        self._running: dict[str, asyncio.Task[None]] = {}
        self._loop: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Look for work now (a job was just queued)."""
        self._wake.set()

    def start(self) -> None:
        self._loop = asyncio.create_task(self._claim_forever(), name="job-runner")

    async def stop(self) -> None:
        """Stop claiming; interrupt running jobs and hand them back to the queue."""
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        tasks = list(self._running.items())
        for _, task in tasks:
            task.cancel()
        for job_id, task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            await self.store.release(job_id)

    async def _claim_forever(self) -> None:
        while True:
            job = None
            if len(self._running) < self.concurrency:
                try:
                    job = await self.store.claim(self.worker)
                except Exception:
                    log.exception("claiming a job failed")
            if job is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll)
                continue
            self._running[job.id] = asyncio.create_task(self._run(job), name=f"job-{job.id}")

    async def _run(self, job: Job) -> None:
        handler = self.handlers.get(job.kind)
        status = "failed"
        try:
            if handler is None:
                log.error("no handler for job kind %s", job.kind)
            else:
                work = asyncio.create_task(_traced(job, handler))
                await self._watch(job, handler, work)
                await work
                status = "done"
        except asyncio.CancelledError:
            raise  # stop(): the job goes back to the queue
        except Exception:
            log.exception("job %s (%s) failed", job.id, job.kind)
        finally:
            self._running.pop(job.id, None)
        await self.store.finish(job.id, status)
        self.wake()  # a job of the same serial key may be waiting

    async def _watch(self, job: Job, handler: JobHandler, work: asyncio.Task[None]) -> None:
        """Renew the lease while the job runs; cancel it when the user asked to."""
        ticks = 0
        try:
            while not work.done():
                await asyncio.wait([work], timeout=0.5)
                ticks += 1
                if work.done():
                    break
                if ticks % 10 == 0:
                    await self.store.renew(job.id, self.worker)
                if await handler.should_cancel(job.subject_id):
                    work.cancel()
                    await asyncio.wait([work])
        except asyncio.CancelledError:
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await work
            raise


async def _traced(job: Job, handler: JobHandler) -> None:
    """Run the job inside a span continuing the trace of the request that queued it."""
    # In the job's own task: the watch loop's lease and cancel queries stay out of the trace.
    with tracing.continued(
        job.traceparent, f"job {job.kind}", job_id=job.id, subject=job.subject_id
    ):
        await handler.run(job.subject_id)
