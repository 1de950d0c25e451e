"""The edge router is SkyForge's alone: a route or an upstream put in front of another team's
hostname (here through Caddy's admin socket and slot files, as root: any way in) is put back
by the reconciler, and the team's own service answers again."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from tests.e2e.harness import PROBE_APP, SkyForge, deploy_and_wait
from tests.e2e.test_lifecycle import wait_until
from tests.support import make_git_repo

VICTIM = "web.beta.localhost"


def deploy_team(skyforge: SkyForge, tmp_path: Path, team: str) -> str:
    """A team's project with the probe app deployed; the process that answers its hostname."""
    api = skyforge.api()
    repo = make_git_repo(tmp_path / team, PROBE_APP)
    assert api.post("/api/v1/projects", json={"name": team}).status_code == 201
    created = api.post(
        f"/api/v1/projects/{team}/services", json={"name": "web", "source": {"git": str(repo)}}
    )
    assert created.status_code == 201
    assert deploy_and_wait(api, team, "web")["status"] == "succeeded"
    return str(json.loads(skyforge.wait_for(f"web.{team}.localhost", lambda _: True))["pid"])


def answering_pid(skyforge: SkyForge, host: str) -> str | None:
    status, body = skyforge.get(host)
    return str(json.loads(body)["pid"]) if status == 200 else None


def repairs(skyforge: SkyForge) -> dict[str, float]:
    text = httpx.get(f"{skyforge.url}/metrics").text
    return {
        sample.labels["part"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "skyforge_edge_repairs_total"
    }


def test_a_route_or_upstream_put_in_front_of_another_teams_hostname_is_put_back(
    skyforge: SkyForge, tmp_path: Path
) -> None:
    alpha = deploy_team(skyforge, tmp_path, "alpha")
    beta = deploy_team(skyforge, tmp_path, "beta")
    slots = sorted((skyforge.data_dir / "edge" / "beta.web").glob("slot-*.dial"))
    alpha_upstream = (skyforge.data_dir / "edge" / "alpha.web" / "slot-0.dial").read_text()
    assert repairs(skyforge) == {"config": 0, "process": 0, "slots": 0}

    # A route in front of beta's hostname, sending its traffic to alpha's app.
    hostile = {
        "match": [{"host": [VICTIM]}],
        "handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": alpha_upstream}]}],
        "terminal": True,
    }
    admin = httpx.HTTPTransport(uds=str(skyforge.data_dir / "run" / "caddy-admin.sock"))
    with httpx.Client(transport=admin, base_url="http://caddy", timeout=10) as hijack:
        put = hijack.put("/config/apps/http/servers/edge/routes/0", json=hostile)
        assert put.status_code == 200, put.text

    wait_until(lambda: repairs(skyforge).get("config") == 1)
    assert {answering_pid(skyforge, VICTIM) for _ in range(2 * len(slots))} == {beta}

    # Beta's upstream files pointed at alpha's app.
    for slot in slots:
        slot.write_text(alpha_upstream)

    wait_until(lambda: repairs(skyforge).get("slots") == 1)
    assert {answering_pid(skyforge, VICTIM) for _ in range(2 * len(slots))} == {beta}
    assert answering_pid(skyforge, "web.alpha.localhost") == alpha
    assert skyforge.log().count("edge router differed from what SkyForge wants") == 2
