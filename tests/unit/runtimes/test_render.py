"""render(): a release at the service's scale -> what the runtime should run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from skyforge.deploys.model import Release
from skyforge.deploys.ports import BuildRef, ServiceRef
from skyforge.runtimes.render import render


def test_a_release_renders_its_processes_config_and_release_command() -> None:
    service = ServiceRef("s", "shop", "web", "/src", "main", {}, {"worker": 2}, "/health")
    build = BuildRef(
        "b",
        "/slugs/b",
        {"web": "python app.py", "worker": "python w.py", "release": "python migrate.py"},
        {"PATH": "/venv/bin"},
    )
    release = Release(
        "r", "s", 4, "b", {"GREETING": "hi", "PATH": "/custom"}, "x", datetime.now(UTC)
    )
    app = render(service, release, build)
    assert app.key == "shop.web"
    assert app.hostnames == ("web.shop.localhost",)
    assert [(p.name, p.count) for p in app.processes] == [("web", 1), ("worker", 2)]
    assert app.release_command == "python migrate.py"
    assert app.env == {"GREETING": "hi", "PATH": "/custom"}  # config vars win
    assert app.slug_dir == Path("/slugs/b")
    assert (app.version, app.health_check_path) == (4, "/health")
    assert app.secret_names == frozenset()


def test_the_secrets_are_named_so_the_runtime_can_mask_them() -> None:
    service = ServiceRef("s", "shop", "web", "/src", "main", {}, {}, None)
    build = BuildRef("b", "/slugs/b", {"web": "python app.py"}, {})
    release = Release("r", "s", 1, "b", {"GREETING": "hi"}, "x", datetime.now(UTC))
    app = render(service, release, build, {"API_TOKEN": "tok-123456", "GREETING": "secret-hi"})
    assert app.secret_names == {"API_TOKEN", "GREETING"}  # a secret beats a config var
    assert app.secret_values() == ["tok-123456", "secret-hi"]
