"""The portal's pages. For now its front page: what this SkyForge is and how to use it."""

from __future__ import annotations

import html

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from skyforge import __version__

router = APIRouter(include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SkyForge</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<h1>SkyForge</h1>
<p>From a git repository to a running app at a URL. Version {version}.</p>
<h2>Get started</h2>
<pre>skyforge login --url {url} --token &lt;token&gt;     # or --email you@example.com, or --sso
skyforge projects create shop
skyforge services create web --project shop --git https://git.example/shop.git
skyforge deploy web --project shop</pre>
<p>The REST API is under <a href="/api/v1/projects">/api/v1</a>; its description is at
<a href="/openapi.json">/openapi.json</a> and <a href="/docs">/docs</a>.</p>
</body></html>
"""


@router.get("/", response_class=HTMLResponse)
async def front_page(request: Request) -> HTMLResponse:
    """The portal's front page."""
    url = html.escape(str(request.base_url).rstrip("/"))
    return HTMLResponse(_PAGE.format(version=__version__, url=url))
