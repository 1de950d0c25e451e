"""An app reads and writes through the managed PostgreSQL database attached to it."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import pytest
from tests.conftest import POSTGRES
from tests.e2e.harness import SkyForge, deploy_and_wait, example_repo
from tests.integration.test_api_databases import drop_server_objects

pytestmark = pytest.mark.e2e


def test_an_attached_database_reaches_the_app_which_reads_and_writes_through_it(
    tmp_path: Path,
) -> None:
    project = f"e{uuid.uuid4().hex[:8]}"
    try:
        sf = SkyForge(tmp_path / "data")
        with sf.running(extra_env={"SKYFORGE_POSTGRES_ADMIN_URL": POSTGRES}):
            api = sf.api()
            base = f"/api/v1/projects/{project}"
            repo = example_repo(tmp_path, "python-postgres")
            api.post("/api/v1/projects", json={"name": project})
            api.post(f"{base}/services", json={"name": "web", "source": {"git": str(repo)}})
            api.patch(f"{base}/services/web", json={"boot_timeout": 10})
            # Without its database the app answers 503: that is no healthy release.
            unattached = deploy_and_wait(api, project, "web")
            assert unattached["status"] == "failed"
            assert "answered 503 to GET /" in unattached["error"], unattached["error"]
            host = f"web.{project}.localhost"
            assert sf.get(host)[1] != "no database attached"  # it never got the traffic

            created = api.post(f"{base}/databases", json={"name": "db", "engine": "postgres"})
            assert created.status_code == 202, created.text
            deadline = time.monotonic() + 60
            while api.get(f"{base}/databases/db").json()["status"] != "ready":
                assert time.monotonic() < deadline
                time.sleep(0.2)
            attached = api.post(f"{base}/databases/db/attachments", json={"service": "web"})
            assert attached.status_code == 201, attached.text
            assert deploy_and_wait(api, project, "web")["status"] == "succeeded"
            first = json.loads(sf.wait_for(host, lambda body: "visits" in body))
            second = json.loads(sf.get(host)[1])
            assert second["visits"] == first["visits"] + 1  # written, then read back
            assert "DATABASE_URL" not in api.get(f"{base}/services/web/env").json()
    finally:
        asyncio.run(drop_server_objects(f"sf_{project}"))
