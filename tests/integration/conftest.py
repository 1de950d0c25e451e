"""People for access tests (users invited, signed up and logged in through the API), and an
OTLP receiver for the tests of traces."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI
from tests.integration.otlp_receiver import OtlpReceiver

PASSWORD = "correct horse battery staple"


@dataclass
class People:
    app: FastAPI
    admin: httpx.AsyncClient
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        """A client of the API, with a bearer token when given."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://skyforge.test",
            headers=headers,
        )
        self.clients.append(client)
        return client

    async def sign_up(self, email: str, org_role: str = "member") -> None:
        invited = await self.admin.post(
            "/api/v1/invitations", json={"email": email, "org_role": org_role}
        )
        assert invited.status_code == 201, invited.text
        done = await self.client().post(
            "/api/v1/auth/signup",
            json={
                "invitation": invited.json()["token"],
                "email": email,
                "password": PASSWORD,
                "name": email.split("@")[0],
            },
        )
        assert done.status_code == 201, done.text

    async def login(self, email: str) -> dict[str, str]:
        response = await self.client().post(
            "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        session: dict[str, str] = response.json()
        return session

    async def user(self, email: str, org_role: str = "member") -> httpx.AsyncClient:
        """A new user, logged in: a client carrying their access token."""
        await self.sign_up(email, org_role)
        return self.client((await self.login(email))["access_token"])


@pytest.fixture
async def people(app: FastAPI, api: httpx.AsyncClient) -> AsyncIterator[People]:
    crowd = People(app, api)
    try:
        yield crowd
    finally:
        for client in crowd.clients:
            await client.aclose()


@pytest.fixture
def otlp() -> Iterator[OtlpReceiver]:
    """An OTLP/HTTP receiver of traces for one test."""
    r = OtlpReceiver()
    try:
        yield r
    finally:
        r.close()
