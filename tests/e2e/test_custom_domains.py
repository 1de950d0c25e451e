"""A custom domain end to end: added, verified by its HTTP token, served over HTTPS, removed."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.e2e.harness import SkyForge
from tests.e2e.test_lifecycle import create_probe
from tests.support import free_port

from skyforge.edge import caddy_tls

SHOP = "shop.example.test"


@pytest.fixture
def https_skyforge(tmp_path: Path) -> Iterator[tuple[SkyForge, int]]:
    https_port = free_port()
    extra_env = {
        "SKYFORGE_EDGE_HTTPS_PORT": str(https_port),
        "SKYFORGE_VERIFY_CONNECT_TO": "127.0.0.1",
        # A name server that does not answer quickly: the DNS check fails fast.
        "SKYFORGE_DNS_NAMESERVERS": "127.0.0.1",
        "SKYFORGE_DNS_PORT": str(free_port()),
    }
    with SkyForge(tmp_path / "data").running(extra_env=extra_env) as sf:
        yield sf, https_port


def https_get(sf: SkyForge, port: int, host: str = SHOP) -> httpx.Response:
    """GET / over HTTPS with `host` as SNI and Host, trusting only this instance's local CA."""
    root = caddy_tls.ca_root(caddy_tls.storage_dir(sf.data_dir.resolve()))
    context = ssl.create_default_context(cafile=str(root))
    with httpx.Client(verify=context, timeout=5) as client:
        return client.get(
            f"https://127.0.0.1:{port}/", headers={"Host": host}, extensions={"sni_hostname": host}
        )


def until_https_answers(sf: SkyForge, port: int, timeout: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = https_get(sf, port)
            if response.status_code == 200:
                return response
        except (httpx.HTTPError, OSError):  # the certificate may still be on its way
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"https://{SHOP} did not answer:\n{sf.log()[-3000:]}")
        time.sleep(0.3)


def test_a_custom_domain_is_verified_by_http_token_and_served_over_https_until_removed(
    https_skyforge: tuple[SkyForge, int], tmp_path: Path
) -> None:
    sf, https_port = https_skyforge
    create_probe(sf, tmp_path)

    added = sf.cli("domains", "add", SHOP, "web", "-p", "shop", "--redirect-https")
    verified = sf.cli("domains", "verify", SHOP, "web", "-p", "shop")

    assert f"_skyforge-challenge.{SHOP}" in added.stdout
    assert "verified and routed" in verified.stdout, verified.stdout + verified.stderr
    assert '"greeting": "hello"' in until_https_answers(sf, https_port).text
    status, _ = sf.get(SHOP)
    assert status == 308  # plain HTTP redirects to HTTPS, as asked

    sf.cli("domains", "remove", SHOP, "web", "-p", "shop")

    try:
        gone = https_get(sf, https_port).status_code
    except (httpx.HTTPError, OSError):  # no certificate any more: the handshake fails
        gone = 0
    assert gone != 200
    assert sf.get(SHOP)[0] == 404
    assert sf.get("web.shop.localhost")[0] == 200
