"""GitHub and GitLab deliveries: signatures, event normalization, preview names."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from skyforge.kernel.errors import Invalid, Unauthorized
from skyforge.kernel.names import dns_label
from skyforge.webhooks.inbound import providers
from skyforge.webhooks.inbound.model import preview_name

SHA = "c" * 40


def test_a_github_signature_must_be_the_hmac_of_the_exact_body() -> None:
    body = b'{"zen": "hi"}'
    good = "sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()

    providers.verify_github(b"k", good, body)
    for bad in (None, "", "sha1=abc", good[:-1] + "0"):
        with pytest.raises(Unauthorized):
            providers.verify_github(b"k", bad, body)
    with pytest.raises(Unauthorized):
        providers.verify_github(b"k", good, body + b" ")


def test_a_gitlab_token_is_compared_with_the_stored_hash() -> None:
    providers.verify_gitlab(providers.token_hash("t0k"), "t0k")
    with pytest.raises(Unauthorized):
        providers.verify_gitlab(providers.token_hash("t0k"), "t0K")


def test_events_are_normalized_and_tags_and_deletions_are_no_deploys() -> None:
    headers = {"x-github-delivery": "d1", "x-github-event": "push"}

    push = providers.parse(
        "github", headers, json.dumps({"ref": "refs/heads/main", "after": SHA}).encode()
    )
    tag = providers.parse(
        "github", headers, json.dumps({"ref": "refs/tags/v1", "after": SHA}).encode()
    )
    gone = providers.parse(
        "github", headers, json.dumps({"ref": "refs/heads/x", "after": "0" * 40}).encode()
    )

    assert push.push is not None and (push.push.branch, push.push.commit) == ("main", SHA)
    assert tag.push is None
    assert gone.push is not None and gone.push.commit is None


def test_a_delivery_without_an_id_or_with_a_bad_commit_is_invalid() -> None:
    body = json.dumps({"ref": "refs/heads/main", "after": "HEAD~1"}).encode()
    with pytest.raises(Invalid):
        providers.parse("github", {"x-github-event": "push"}, body)
    with pytest.raises(Invalid):
        providers.parse("github", {"x-github-delivery": "d", "x-github-event": "push"}, body)


def test_preview_names_stay_dns_labels() -> None:
    assert preview_name("web", 12) == "web-pr-12"
    long = preview_name("a" * 62 + "b", 123456)
    assert len(long) == 63 and long.endswith("-pr-123456")
    cut = preview_name("a" * 57 + "-" + "b" * 5, 1)  # cut right after a '-'
    assert dns_label(cut) == "a" * 57 + "-pr-1"
