"""Generated hostile input on every API operation: a 4xx problem, never a 500, never a crash,
and every answer as the OpenAPI document describes it.

Schemathesis reads SkyForge's own OpenAPI document and sends what it generates from it (valid,
invalid and edge-case bodies, path and query values) to a real API server. Each answer's status,
content type, headers and body must be documented for its operation, and invalid input must be
refused. (Not checked: that every schema-valid input is accepted. The schemas cannot say that a
cursor or token must be one the API gave out, or that a name must be free.)
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from tests.support import api_server, free_port, make_git_repo

from skyforge.config import Settings

TOKEN = "fuzz-token-0123456789abcdef01234"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    """The OpenAPI schema of a running API that has a project `shop` with a service `web`."""
    data = tmp_path_factory.mktemp("fuzz")
    config = Settings(
        data_dir=data / "data",
        runtime="null",
        edge="null",
        admin_token=TOKEN,
        api_port=free_port(),
        rate_api_burst=100_000,  # the fuzzer is to reach the handlers, not the rate limit
        rate_auth_burst=100_000,
        rate_ip_burst=100_000,
        reconcile_interval=0.5,
    )
    with api_server(config) as url:
        repo = make_git_repo(data / "site", {"index.html": "<h1>hi</h1>\n"})
        auth = {"Authorization": f"Bearer {TOKEN}"}
        httpx.post(f"{url}/api/v1/projects", json={"name": "shop"}, headers=auth)
        httpx.post(
            f"{url}/api/v1/projects/shop/services",
            headers=auth,
            json={"name": "web", "source": {"git": str(repo)}},
        )
        yield schemathesis.openapi.from_url(f"{url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_the_api_fail_or_answer_outside_its_description(
    case: schemathesis.Case,
) -> None:
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {TOKEN}"}
    if case.path_parameters and hash(repr(case.path_parameters)) % 2 == 0:
        # Half the cases aim at what exists, so the handlers behind the lookups run too.
        for name, value in (("project", "shop"), ("service", "web")):
            if name in case.path_parameters:
                case.path_parameters[name] = value
    response = case.call()
    assert response.status_code < 500, (response.status_code, response.text)
    if response.status_code >= 400:
        assert response.headers["content-type"] == ["application/problem+json"], response.text
    case.validate_response(response, checks=CHECKS)
