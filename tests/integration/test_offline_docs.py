"""`/docs` works with no network: every script and stylesheet comes from SkyForge itself."""

from __future__ import annotations

import re

import httpx

ASSET = re.compile(r'<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)"')
TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


async def test_the_docs_page_loads_only_local_assets_allowed_by_its_csp(
    api: httpx.AsyncClient,
) -> None:
    page = await api.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    urls = ASSET.findall(page.text)
    assert {u.rsplit(".", 1)[-1] for u in urls} == {"js", "css", "png"}
    assert "<script>" not in page.text  # nothing inline: the CSP allows none
    for url in urls:
        assert url.startswith("/docs/"), url  # not another host, nor a CDN
        asset = await api.get(url)
        assert asset.status_code == 200, url
        suffix = "." + url.rsplit(".", 1)[-1]
        assert asset.headers["content-type"].startswith(TYPES[suffix]), (url, asset.headers)
        assert len(asset.content) > 0
    bundle = (await api.get("/docs/assets/swagger-ui-bundle.js")).text
    assert "SwaggerUIBundle" in bundle
    assert "/openapi.json" in (await api.get("/docs/start.js")).text

    csp = dict(
        part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";")
    )
    assert csp["script-src"] == "'self'"
    assert csp["style-src"].split()[0] == "'self'"
    assert csp["default-src"] == "'none'"
    assert csp["connect-src"] == "'self'"  # where the page fetches /openapi.json
    for sources in csp.values():
        assert not re.search(r"https?:|\*", sources), sources  # nothing remote


async def test_the_openapi_description_the_docs_show_is_served(api: httpx.AsyncClient) -> None:
    described = await api.get("/openapi.json")
    assert described.status_code == 200
    assert "/api/v1/projects" in described.json()["paths"]
    assert "/docs" not in described.json()["paths"]
