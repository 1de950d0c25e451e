"""Validation of a service's git source: URL or local path, and branch."""

from typing import cast

import pytest

from skyforge.kernel.errors import Invalid
from skyforge.services.source import (
    Endpoint,
    endpoint,
    local_path,
    shown,
    split_credentials,
    user_and_password,
    validate_branch,
    validate_git_url,
)


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/acme/shop.git",
        "http://git.example:8080/shop",
        "https://user:token@git.example/shop.git",
        "https://[::1]:3000/shop.git",
        "ssh://git@git.example:2222/acme/shop.git",
        "git+ssh://git@git.example/acme/shop.git",
        "git://git.example/shop.git",
        "git@github.com:acme/shop.git",
        "git.example:acme/shop.git",
        "/srv/git/shop.git",
        "/home/dev/my repo",
        "file:///srv/git/shop.git",
    ],
)
def test_usual_git_urls_and_absolute_paths_are_accepted(url: str) -> None:
    assert validate_git_url(url) == url


def test_surrounding_spaces_are_trimmed() -> None:
    assert validate_git_url("  https://git.example/shop.git ") == "https://git.example/shop.git"


@pytest.mark.parametrize(
    "url",
    [
        "--upload-pack=touch /tmp/x",
        "-oProxyCommand=touch /tmp/x",
        "  --upload-pack=touch /tmp/x",
        "-oProxyCommand=x:repo",
        "ssh://-oProxyCommand=touch%20/tmp/x/repo",
        "ssh://-user@git.example/repo",
        "-u@git.example:repo",
        "git@-oProxyCommand=x:repo",
        "git@git.example:-repo",
    ],
)
def test_a_url_git_or_ssh_could_read_as_an_option_is_refused(url: str) -> None:
    with pytest.raises(Invalid, match=r"'-'|host"):
        validate_git_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "ext::sh -c touch% /tmp/pwned",
        "ext::sh -c 'touch /tmp/x'",
        "fd::17",
        "foo::https://git.example/repo",
        "git-remote-ext::x",
    ],
)
def test_transport_remote_helpers_are_refused(url: str) -> None:
    with pytest.raises(Invalid, match="remote helpers"):
        validate_git_url(url)


@pytest.mark.parametrize(
    "url", ["foo://git.example/repo", "javascript://x/y", "ftp://git.example/repo"]
)
def test_schemes_git_does_not_handle_itself_are_refused(url: str) -> None:
    with pytest.raises(Invalid, match="scheme"):
        validate_git_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://git.example/repo\n--upload-pack=x",
        "https://git.example/repo\r",
        "/srv/git/repo\x00",
        "https://git.example/re\tpo",
        "https://git.example/\x7f",
    ],
)
def test_control_characters_and_newlines_are_refused(url: str) -> None:
    with pytest.raises(Invalid, match="control characters"):
        validate_git_url(url)


def test_percent_encoded_newlines_are_refused() -> None:
    with pytest.raises(Invalid, match="percent-encoded"):
        validate_git_url("https://user%0a:pass@git.example/repo.git")


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "relative/path",
        "./repo",
        "~/repo",
        "https://",
        "https://git.example",
        "https://git.example:notaport/repo",
        "https://git .example/repo",
        "file://host/srv/repo",
    ],
)
def test_malformed_or_relative_sources_are_refused(url: str) -> None:
    with pytest.raises(Invalid):
        validate_git_url(url)


def test_an_overly_long_url_is_refused() -> None:
    with pytest.raises(Invalid, match="longer than"):
        validate_git_url("https://git.example/" + "a" * 3000)


def test_a_non_string_url_is_refused() -> None:
    with pytest.raises(Invalid):
        validate_git_url(cast(str, None))  # what a JSON body may hold


@pytest.mark.parametrize(
    "branch",
    ["main", "master", "feature/login", "release-1.2", "fix_42", "v1.0.0", "a/b/c", "über"],
)
def test_usual_branch_names_are_accepted(branch: str) -> None:
    assert validate_branch(branch) == branch


@pytest.mark.parametrize(
    "branch",
    [
        "",
        "-f",
        "--force",
        "..",
        "a..b",
        "a b",
        "a~1",
        "a^",
        "a:b",
        "a?",
        "a*",
        "a[1]",
        "a\\b",
        "main\n",
        "ma\x00in",
        "a@{1}",
        "@",
        "HEAD",
        "/main",
        "main/",
        "a//b",
        "main.",
        ".hidden",
        "a/.b",
        "main.lock",
        "a.lock/b",
        "a" * 256,
    ],
)
def test_branch_names_git_would_refuse_are_refused(branch: str) -> None:
    with pytest.raises(Invalid):
        validate_branch(branch)


def test_the_error_says_what_is_wrong_with_a_branch() -> None:
    with pytest.raises(Invalid, match=r"'\.\.' is not allowed"):
        validate_branch("a..b")


@pytest.mark.parametrize(
    ("url", "bare", "credentials"),
    [
        ("https://alice:tok@git.example/shop.git", "https://git.example/shop.git", "alice:tok"),
        ("https://ghp_token@git.example/shop.git", "https://git.example/shop.git", "ghp_token"),
        ("http://a:p%40ss@git.example:8080/x", "http://git.example:8080/x", "a:p%40ss"),
        ("https://git.example/shop.git", "https://git.example/shop.git", None),
        ("ssh://git@git.example/shop.git", "ssh://git@git.example/shop.git", None),
        ("git@github.com:acme/shop.git", "git@github.com:acme/shop.git", None),
        ("/srv/git/shop.git", "/srv/git/shop.git", None),
    ],
)
def test_credentials_are_split_off_http_urls_only(
    url: str, bare: str, credentials: str | None
) -> None:
    assert split_credentials(url) == (bare, credentials)


@pytest.mark.parametrize(
    "url", ["ssh://git:pw@git.example/shop.git", "git://user@git.example/shop.git"]
)
def test_a_password_where_none_is_used_is_refused(url: str) -> None:
    with pytest.raises(Invalid):
        split_credentials(url)


def test_stored_credentials_are_shown_as_stars() -> None:
    assert shown("https://git.example/x.git", True) == "https://***@git.example/x.git"
    assert shown("https://git.example/x.git", False) == "https://git.example/x.git"
    assert user_and_password("a:p%40ss") == ("a", "p@ss")
    assert user_and_password("token") == ("token", "")


@pytest.mark.parametrize(
    ("url", "where"),
    [
        ("https://Git.Example/x.git", Endpoint("https", "git.example", 443)),
        ("http://10.0.0.1:8080/x.git", Endpoint("http", "10.0.0.1", 8080)),
        ("https://[::1]:3000/x.git", Endpoint("https", "::1", 3000)),
        ("ssh://git@git.example:2222/x.git", Endpoint("ssh", "git.example", 2222, "git")),
        ("git+ssh://git@git.example/x.git", Endpoint("ssh", "git.example", 22, "git")),
        ("git@github.com:acme/x.git", Endpoint("ssh", "github.com", 22, "git")),
        ("git://git.example/x.git", Endpoint("git", "git.example", 9418)),
    ],
)
def test_a_network_source_names_where_it_connects(url: str, where: Endpoint) -> None:
    assert endpoint(url) == where


@pytest.mark.parametrize(
    "url", ["https://git.example\\/x", "http://[::1%25eth0]/x", "http://h:0/x", "http://h:99999/x"]
)
def test_an_authority_git_could_read_otherwise_is_refused(url: str) -> None:
    with pytest.raises(Invalid):
        endpoint(url)


def test_local_sources_name_their_path() -> None:
    assert local_path("/srv/git/x.git") == "/srv/git/x.git"
    assert local_path("file:///srv/git/x.git") == "/srv/git/x.git"
    assert local_path("https://git.example/x.git") is None
    with pytest.raises(Invalid, match="must not contain"):
        local_path("file:///srv/ok/%2e%2e/data")
