"""The guarded HTTP client against real servers: it connects to the address it checked, keeps
the hostname for the Host header and TLS (SNI and the certificate check), and re-checks every
redirect hop."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from skyforge.adapters.netguard import GuardedClient, IPAddress, NetworkPolicy, TargetRefused

LOOPBACK = NetworkPolicy.of(networks=["127.0.0.1/32"])


async def to_loopback(host: str, port: int) -> list[IPAddress]:
    """A resolver that answers 127.0.0.1 for every name (as a rebinding attacker's DNS might)."""
    return [ipaddress.ip_address("127.0.0.1")]


def _cert(name: str, key: Any, issuer: x509.Name, signer: Any, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False
        )
    return builder.sign(signer, hashes.SHA256())


def tls_pair(tmp_path: Path, hostname: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context for `hostname`, client context trusting only the test CA)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = _cert("test CA", ca_key, ca_name, ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _cert(hostname, key, ca_name, ca_key, ca=False)
    (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "key.pem")
    client = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return server, client


@contextmanager
def server(
    tls: ssl.SSLContext | None = None, status: int = 200, location: str | None = None
) -> Iterator[tuple[int, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            seen.append({"host": self.headers.get("Host", ""), "path": self.path})
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1], seen
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


async def test_https_goes_to_the_checked_address_with_the_hostname_for_tls(
    tmp_path: Path,
) -> None:
    server_tls, client_tls = tls_pair(tmp_path, "hooks.skyforge.test")
    with server(server_tls) as (port, seen):
        client = GuardedClient(LOOPBACK, resolver=to_loopback, verify=client_tls, timeout=5)
        try:
            answer = await client.request(
                "POST", f"https://hooks.skyforge.test:{port}/in", headers={}, content=b"{}"
            )
        finally:
            await client.aclose()
    assert answer.status_code == 200
    assert seen == [{"host": f"hooks.skyforge.test:{port}", "path": "/in"}]


async def test_a_certificate_for_another_name_is_refused(tmp_path: Path) -> None:
    server_tls, client_tls = tls_pair(tmp_path, "other.skyforge.test")
    with server(server_tls) as (port, _):
        client = GuardedClient(LOOPBACK, resolver=to_loopback, verify=client_tls, timeout=5)
        try:
            with pytest.raises(httpx.ConnectError, match=r"(?i)certificate"):
                await client.request("POST", f"https://hooks.skyforge.test:{port}/", headers={})
        finally:
            await client.aclose()


async def test_a_name_resolving_to_a_refused_address_is_never_connected_to() -> None:
    with server() as (port, seen):
        client = GuardedClient(NetworkPolicy(), resolver=to_loopback, timeout=5)
        try:
            with pytest.raises(TargetRefused, match="resolves to a loopback address"):
                await client.request("POST", f"http://hooks.example.com:{port}/", headers={})
        finally:
            await client.aclose()
    assert seen == []


async def test_each_redirect_hop_is_checked_and_only_307_308_are_followed() -> None:
    with server() as (inner_port, inner_seen):
        refused_hop = f"http://127.0.0.2:{inner_port}/x"
        with server(status=307, location=refused_hop) as (port, _):
            client = GuardedClient(LOOPBACK, timeout=5)
            try:
                with pytest.raises(TargetRefused, match="loopback"):
                    await client.request("POST", f"http://127.0.0.1:{port}/", headers={})
            finally:
                await client.aclose()
        allowed_hop = f"http://127.0.0.1:{inner_port}/moved"
        with server(status=308, location=allowed_hop) as (port, _):
            client = GuardedClient(LOOPBACK, timeout=5)
            try:
                answer = await client.request("POST", f"http://127.0.0.1:{port}/", headers={})
            finally:
                await client.aclose()
        assert answer.status_code == 200 and inner_seen[-1]["path"] == "/moved"
        with server(status=302, location=allowed_hop) as (port, _):
            client = GuardedClient(LOOPBACK, timeout=5)
            try:
                answer = await client.request("POST", f"http://127.0.0.1:{port}/", headers={})
            finally:
                await client.aclose()
        assert answer.status_code == 302  # not followed: it would drop the body
        assert len(inner_seen) == 1
