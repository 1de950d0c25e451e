"""`skyforge up` cuts off clients that trickle their requests, on the API and on the edge."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from tests.e2e.harness import SkyForge
from tests.support import trickle

pytestmark = pytest.mark.e2e
FILLER = "a" * 400  # a byte every 0.2 s: 80 s to send the whole head


def test_the_api_and_the_edge_cut_off_a_client_trickling_its_headers(tmp_path: Path) -> None:
    bounds = {"SKYFORGE_HEADER_TIMEOUT": "1"}  # 10 s by default
    with SkyForge(tmp_path / "data").running(extra_env=bounds) as sf:
        for port, host in ((sf.api_port, "127.0.0.1"), (sf.edge_port, "web.shop.localhost")):
            endless = f"GET / HTTP/1.1\r\nHost: {host}\r\nX-Filler: {FILLER}\r\n\r\n".encode()
            with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
                answer = trickle(sock, endless, within=6)  # the setting, not the default
            assert b" 200 " not in answer, (port, answer)
        assert sf.get("web.shop.localhost")[0] == 404  # a prompt client is still answered
