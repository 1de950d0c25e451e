"""The edge's HTTPS config, tokens and TLS state, without Caddy: issuers, redirects, files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from skyforge.edge import caddy_state, validate
from skyforge.edge.base import Route
from skyforge.edge.book import RouteBook
from skyforge.edge.caddy import CaddyEdge
from skyforge.edge.caddy_config import build_config
from skyforge.edge.caddy_tls import Https
from skyforge.edge.null import NullEdge
from skyforge.kernel.errors import Invalid

SHOP = "shop.example.com"
LOCAL = "web.shop.localhost"
TOKEN = "t" * 43


def config(
    tmp_path: Path, https: Https | None, routes: list[Route], tokens: bool = True
) -> dict[str, Any]:
    tls, redirect = validate.secure_hostnames(routes)
    return build_config(
        admin_socket=tmp_path / "admin.sock",
        listen="127.0.0.1:8080",
        unavailable_socket=tmp_path / "unavailable.sock",
        edge_dir=tmp_path / "edge",
        routes=validate.routes(routes),
        slots={},
        tls=tls,
        redirect_https=redirect,
        https=https,
        tokens_dir=tmp_path / "tokens" if tokens else None,
    )


def https(tmp_path: Path, email: str | None = None, port: int = 8443) -> Https:
    return Https("127.0.0.1:8443", port, 8080, tmp_path / "caddy", acme_email=email)


ROUTE = Route("shop.web", (LOCAL, SHOP), tls=(SHOP,), redirect_https=(SHOP,))


def test_local_mode_certifies_tls_hostnames_from_the_internal_ca(tmp_path: Path) -> None:
    built = config(
        tmp_path, https(tmp_path), [ROUTE, Route("p.a", ("a.example.test",), ("a.example.test",))]
    )

    assert built["apps"]["tls"] == {
        "certificates": {"automate": ["a.example.test", SHOP]},
        "automation": {
            "policies": [
                {"subjects": ["a.example.test", SHOP], "issuers": [{"module": "internal"}]}
            ]
        },
    }
    # Caddy runs as root: it must never add its CA to the system's trust store.
    assert built["apps"]["pki"] == {"certificate_authorities": {"local": {"install_trust": False}}}
    assert built["storage"] == {"module": "file_system", "root": str(tmp_path / "caddy")}
    server = built["apps"]["http"]["servers"]["edge-tls"]
    assert server["listen"] == ["127.0.0.1:8443"]
    assert server["tls_connection_policies"] == [{}]
    hosts = [r["match"][0]["host"] for r in server["routes"] if "host" in r.get("match", [{}])[0]]
    # The generated .localhost name stays plain HTTP; "name:port" is there for per-host metrics.
    assert hosts == [["a.example.test", "a.example.test:8443"], [SHOP, f"{SHOP}:8443"]]


def test_with_an_acme_email_public_names_use_acme_and_local_ones_the_internal_ca(
    tmp_path: Path,
) -> None:
    route = Route(
        "shop.web", (LOCAL, SHOP, "shop.example.test"), tls=(LOCAL, SHOP, "shop.example.test")
    )

    policies = config(tmp_path, https(tmp_path, "ops@example.com"), [route])["apps"]["tls"][
        "automation"
    ]["policies"]

    assert policies == [
        {"subjects": ["shop.example.test", LOCAL], "issuers": [{"module": "internal"}]},
        {
            "subjects": [SHOP],
            "issuers": [
                {
                    "module": "acme",
                    "email": "ops@example.com",
                    "challenges": {
                        "http": {"alternate_port": 8080},
                        "tls-alpn": {"alternate_port": 8443},
                    },
                }
            ],
        },
    ]


def test_an_acme_directory_can_be_chosen(tmp_path: Path) -> None:
    settings = Https(
        "127.0.0.1:443", 443, 80, tmp_path, "ops@example.com", "https://ca.example/dir"
    )

    built = config(tmp_path, settings, [ROUTE])

    assert built["apps"]["tls"]["automation"]["policies"][0]["issuers"][0]["ca"] == (
        "https://ca.example/dir"
    )


def test_plain_http_redirects_only_the_hostnames_that_ask_after_serving_tokens(
    tmp_path: Path,
) -> None:
    routes = config(tmp_path, https(tmp_path), [ROUTE])["apps"]["http"]["servers"]["edge"]["routes"]

    assert routes[0]["handle"][0]["handler"] == "file_server"  # tokens answer before redirecting
    assert routes[1] == {
        "match": [{"host": [SHOP]}],
        "handle": [
            {
                "handler": "static_response",
                "status_code": 308,
                "headers": {"Location": ["https://{http.request.host}:8443{http.request.uri}"]},
            }
        ],
        "terminal": True,
    }
    # The app, for names not redirected (with the port too, as clients send it, for metrics).
    assert routes[2]["match"] == [{"host": [SHOP, LOCAL, f"{SHOP}:8080", f"{LOCAL}:8080"]}]


def test_a_redirect_to_port_443_names_no_port(tmp_path: Path) -> None:
    servers = config(tmp_path, https(tmp_path, port=443), [ROUTE])["apps"]["http"]["servers"]
    location = servers["edge"]["routes"][1]["handle"][0]["headers"]["Location"]

    assert location == ["https://{http.request.host}{http.request.uri}"]
    assert servers["edge-tls"]["routes"][1]["match"] == [{"host": [SHOP]}]  # clients send no :443


def test_without_an_https_port_tls_and_redirects_are_ignored(tmp_path: Path) -> None:
    plain = config(tmp_path, None, [Route("shop.web", (LOCAL, SHOP))], tokens=False)

    assert config(tmp_path, None, [ROUTE], tokens=False) == plain
    assert set(plain) == {"admin", "logging", "apps"} and set(plain["apps"]) == {"http"}


def test_tokens_are_found_by_host_and_path_and_fall_through_when_unknown(tmp_path: Path) -> None:
    route = config(tmp_path, None, [ROUTE])["apps"]["http"]["servers"]["edge"]["routes"][0]

    assert route["match"][0]["method"] == ["GET", "HEAD"]
    assert route["handle"] == [
        {
            "handler": "file_server",
            "root": f"{tmp_path}/tokens/{{http.request.host}}",
            "pass_thru": True,
        }
    ]


@pytest.mark.parametrize(
    "route",
    [
        Route("p.a", ("a.example.com",), tls=("b.example.com",)),
        Route("p.a", ("a.example.com",), redirect_https=("a.example.com",)),
        Route("p.a", ("a.example.com",), tls=("a_b.example.com",)),
    ],
)
def test_tls_and_redirects_apply_only_to_the_routes_own_hostnames(route: Route) -> None:
    with pytest.raises(Invalid):
        validate.routes([route])


@pytest.mark.parametrize(
    "tokens", [{"a.example.com": "short"}, {"a.example.com": "x" * 42 + "/"}, {"a b": TOKEN}]
)
def test_bad_tokens_are_rejected(tokens: dict[str, str]) -> None:
    with pytest.raises(Invalid):
        validate.tokens(tokens)


@pytest.mark.parametrize(
    "options",
    [
        {"https_port": 8080},
        {"https_port": 0},
        {"https_port": 8443, "acme_email": "{env.HOME}@x.com"},
        {"https_port": 8443, "acme_email": "no-at-sign"},
        {"https_port": 8443, "acme_ca": "http://ca.example/dir"},
    ],
)
def test_bad_https_settings_are_rejected(tmp_path: Path, options: dict[str, Any]) -> None:
    with pytest.raises(Invalid):
        CaddyEdge(tmp_path, 8080, **options)


def test_the_tls_state_survives_a_restart(tmp_path: Path) -> None:
    state = caddy_state.EdgeState()
    state.routes = validate.routes([ROUTE])
    state.tls, state.redirect_https = validate.secure_hostnames([ROUTE])
    state.size_slots()
    caddy_state.save(tmp_path / "state.json", state)

    loaded = caddy_state.load(tmp_path / "state.json")

    assert loaded == state
    assert loaded.route_list() == [Route("shop.web", (SHOP, LOCAL), (SHOP,), (SHOP,))]


def test_token_files_follow_the_registered_set(tmp_path: Path) -> None:
    other = "o" * 43
    caddy_state.write_tokens(tmp_path, {SHOP: TOKEN, "b.example.com": other})
    caddy_state.write_tokens(tmp_path, {SHOP: other})

    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert files == [f"{SHOP}/.well-known/skyforge/{other}"]
    assert (tmp_path / files[0]).read_text() == other


async def test_the_route_book_passes_tls_routes_and_tokens_on() -> None:
    null = NullEdge()
    book = RouteBook(null)

    await book.set_service_routes([ROUTE])
    await book.set_verification_tokens({SHOP: TOKEN})

    assert null.routes == [ROUTE]
    assert null.tokens == {SHOP: TOKEN}
