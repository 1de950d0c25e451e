"""THE LEAK TEST: after setting, deploying, revealing, rotating and deleting secrets, no
plaintext value is anywhere: not in the database files or a pg_dump, not in a log or output."""

from __future__ import annotations

import asyncio
import base64
import logging
import uuid
from pathlib import Path

import httpx
import pytest

from skyforge.bootstrap import Platform
from skyforge.runtimes.null import NullRuntime

P = "/api/v1/projects/shop"


def forms(value: str) -> list[bytes]:
    """The plaintext as it could sit in a file: raw, hex (PostgreSQL bytea), base64."""
    raw = value.encode()
    return [raw, raw.hex().encode(), base64.b64encode(raw), base64.b64encode(raw)[:-4]]


async def dump(database_url: str) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        "pg_dump", f"--dbname={database_url}", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    assert b"CREATE TABLE public.secret_versions" in out
    return out


async def wait_idle(api: httpx.AsyncClient) -> list[str]:
    """Wait until every deploy of web has finished; their ids."""
    for _ in range(300):
        items = (await api.get(f"{P}/services/web/deploys")).json()["items"]
        if all(d["status"] in ("succeeded", "failed", "cancelled") for d in items):
            return [d["id"] for d in items]
        await asyncio.sleep(0.1)
    raise AssertionError("deploys did not finish")


async def test_no_plaintext_secret_is_stored_logged_or_output_anywhere(
    api: httpx.AsyncClient,
    platform: Platform,
    database_url: str,
    tmp_path: Path,
    static_repo: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    canaries = [f"canary-{n}-{uuid.uuid4().hex}" for n in range(5)]
    outputs: list[str] = []
    await api.post("/api/v1/projects", json={"name": "shop"})
    await api.post(f"{P}/services", json={"name": "web", "source": {"git": str(static_repo)}})
    for name, value, scope in (
        ("SHARED", canaries[0], None),
        ("SHARED", canaries[1], None),
        ("WEB", canaries[2], "web"),
        ("GONE", canaries[3], None),
    ):
        response = await api.put(f"{P}/secrets/{name}", json={"value": value, "service": scope})
        outputs.append(response.text)
    outputs.append((await api.post(f"{P}/services/web/deploys")).text)
    await wait_idle(api)
    await api.put(f"{P}/secrets/WEB", json={"value": canaries[4], "service": "web"})
    await wait_idle(api)
    revealed = await api.get(f"{P}/secrets/SHARED/value")
    assert revealed.json()["value"] == canaries[1]  # the values are really there
    outputs.append((await api.post("/api/v1/secrets/rotate-key")).text)
    outputs.append((await api.delete(f"{P}/secrets/GONE")).text)
    deploy_ids = await wait_idle(api)
    runtime = platform.runtime
    assert isinstance(runtime, NullRuntime)
    assert runtime.rollouts[-1].env["WEB"] == canaries[4]  # and reached the runtime

    for path in (f"{P}/secrets", f"{P}/secrets/SHARED/versions", f"{P}/audit?limit=200"):
        outputs.append((await api.get(path)).text)
    for path in ("/releases", "/deploys", "/env"):
        outputs.append((await api.get(f"{P}/services/web{path}")).text)
    for deploy_id in deploy_ids:
        outputs.append((await api.get(f"{P}/services/web/deploys/{deploy_id}/logs")).text)
    blobs = [("outputs", "\n".join(outputs).encode()), ("logs", caplog.text.encode())]
    if database_url.startswith("postgresql"):
        blobs.append(("pg_dump", await dump(database_url)))
    files = [p for p in tmp_path.rglob("*") if p.is_file() and ".git" not in p.parts]
    assert any(p.name == "test.db" for p in files) or database_url.startswith("postgresql")
    blobs += [(str(p), p.read_bytes()) for p in files]

    for canary in canaries:
        for where, blob in blobs:
            for form in forms(canary):
                assert form not in blob, f"{canary[:9]}... found in {where}"
