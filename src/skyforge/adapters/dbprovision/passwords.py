"""New passwords, and their SCRAM-SHA-256 verifiers so that servers never see the plain text."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets


def new_password() -> str:
    """A random password of 256 bits, URL-safe so it needs no escaping in a URL or an env var."""
    return secrets.token_urlsafe(32)


def scram_sha_256(password: str, *, iterations: int = 4096, salt: bytes | None = None) -> str:
    """The verifier PostgreSQL stores for password (what libpq's PQencryptPasswordConn makes)."""
    # Sending the verifier instead of the password keeps the plain text out of the server's
    # statement log, pg_stat_activity and pg_stat_statements. Our passwords are ASCII, so
    # SASLprep leaves them unchanged.
    salt = secrets.token_bytes(16) if salt is None else salt
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def redis_acl_hash(password: str) -> str:
    """The `#<sha256>` form of ACL SETUSER, so that the password never reaches Redis itself."""
    return "#" + hashlib.sha256(password.encode()).hexdigest()
