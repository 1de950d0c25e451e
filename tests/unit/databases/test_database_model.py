"""Names of managed databases on their servers."""

from __future__ import annotations

import pytest

from skyforge.adapters.dbprovision.names import managed_name
from skyforge.databases.model import check_engine, resource_name
from skyforge.kernel.errors import Invalid


def test_the_server_name_joins_project_and_name_with_dashes_as_underscores() -> None:
    assert resource_name("shop-eu", "main-db") == "sf_shop_eu_main_db"
    assert managed_name(resource_name("a", "0b"), "sf_") == "sf_a_0b"


@pytest.mark.parametrize("name", ["x; DROP DATABASE test", "ünï", "A", "-a", "a_b", "", "a'--"])
def test_a_name_that_is_not_a_dns_label_is_invalid(name: str) -> None:
    with pytest.raises(Invalid):
        resource_name("shop", name)


def test_a_server_name_longer_than_postgres_allows_is_invalid() -> None:
    with pytest.raises(Invalid, match="at most 59"):
        resource_name("p" * 30, "d" * 30)


def test_only_postgres_and_redis_are_engines() -> None:
    assert check_engine("redis") == "redis"
    with pytest.raises(Invalid):
        check_engine("mysql")
