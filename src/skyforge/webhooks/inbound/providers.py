"""What GitHub and GitLab send: signatures checked, payloads normalized. Pure: no I/O.

GitHub signs the body with HMAC-SHA256 under the hook's secret (`X-Hub-Signature-256`);
GitLab sends the secret back as is (`X-Gitlab-Token`). Both comparisons are constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs

from skyforge.kernel import jsondepth
from skyforge.kernel.errors import Invalid, Unauthorized
from skyforge.webhooks.inbound.model import (
    GITHUB,
    Delivery,
    PullRequest,
    Push,
    commit_or_none,
)

MAX_DELIVERY_ID = 128
_GITHUB_OPEN = frozenset({"opened", "reopened", "synchronize"})
_GITLAB_OPEN = frozenset({"open", "reopen", "update"})
_GITLAB_CLOSE = frozenset({"close", "merge"})


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def verify_github(secret: bytes, signature: str | None, body: bytes) -> None:
    """Unauthorized unless `signature` is `sha256=<hex HMAC of body under secret>`."""
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    if not signature or not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise Unauthorized("the X-Hub-Signature-256 signature does not match")


def verify_gitlab(secret_hash: str, token: str | None) -> None:
    """Unauthorized unless the X-Gitlab-Token is the hook's secret (compared as hashes)."""
    if not token or not hmac.compare_digest(token_hash(token).encode(), secret_hash.encode()):
        raise Unauthorized("the X-Gitlab-Token does not match")


def delivery_id(provider: str, headers: Mapping[str, str]) -> str:
    """The provider's id of this delivery (the same id twice is a replay)."""
    if provider == GITHUB:
        value = headers.get("x-github-delivery")
    else:
        value = headers.get("x-gitlab-event-uuid") or headers.get("idempotency-key")
    if not value or len(value) > MAX_DELIVERY_ID or not value.isprintable():
        raise Invalid("the delivery has no usable delivery id header")
    return value.strip()


def parse(provider: str, headers: Mapping[str, str], body: bytes) -> Delivery:
    """The normalized delivery of an already verified request."""
    ident = delivery_id(provider, headers)
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        # GitHub's other content type: the same JSON in a `payload` form field.
        body = (parse_qs(body.decode("utf-8", "replace")).get("payload") or [""])[0].encode()
    try:
        payload = jsondepth.loads(body)  # too deep: Invalid, before the parser recurses
    except ValueError:
        raise Invalid("the payload is not JSON") from None
    if not isinstance(payload, dict):
        raise Invalid("the payload is not a JSON object")
    if provider == GITHUB:
        event = headers.get("x-github-event", "")[:64]
        return Delivery(ident, event, *_github(event, payload))
    event = headers.get("x-gitlab-event", "")[:64]
    return Delivery(ident, event, *_gitlab(event, payload))


def _branch(ref: object) -> str | None:
    """refs/heads/<branch> -> branch; tags and other refs -> None."""
    if isinstance(ref, str) and ref.startswith("refs/heads/") and len(ref) > len("refs/heads/"):
        return ref[len("refs/heads/") :]
    return None


def _push(payload: dict[str, Any]) -> Push | None:
    branch = _branch(payload.get("ref"))
    if branch is None:
        return None
    return Push(branch, commit_or_none(payload.get("after")))


def _github(event: str, payload: dict[str, Any]) -> tuple[Push | None, PullRequest | None]:
    if event == "push":
        return _push(payload), None
    if event != "pull_request":
        return None, None  # ping and everything else: accepted, nothing to do
    action, pr = payload.get("action"), _object(payload, "pull_request")
    head = _object(pr, "head")
    number = payload.get("number", pr.get("number"))
    if action in _GITHUB_OPEN:
        kind = "open"
    elif action == "closed":
        kind = "close"
    else:
        return None, None  # edited, labeled, assigned...: no new code
    pull = _pull(number, kind, head.get("ref"), head.get("sha"))
    return None, replace(pull, fork=_github_fork(pr))


def _gitlab(event: str, payload: dict[str, Any]) -> tuple[Push | None, PullRequest | None]:
    if event == "Push Hook":
        return _push(payload), None
    if event != "Merge Request Hook":
        return None, None
    attrs = _object(payload, "object_attributes")
    action = attrs.get("action")
    if action in _GITLAB_OPEN:
        kind = "open"
    elif action in _GITLAB_CLOSE:
        kind = "close"
    else:
        return None, None  # approved, unapproved...
    last = attrs.get("last_commit")
    sha = last.get("id") if isinstance(last, dict) else None
    pull = _pull(attrs.get("iid"), kind, attrs.get("source_branch"), sha)
    source, target = attrs.get("source_project_id"), attrs.get("target_project_id")
    return None, replace(pull, fork=source is None or source != target)


def _github_fork(pr: dict[str, Any]) -> bool:
    """From another repository than the base's (a deleted fork has no head repo at all)."""
    head, base = pr.get("head"), pr.get("base")
    head_repo = head.get("repo") if isinstance(head, dict) else None
    base_repo = base.get("repo") if isinstance(base, dict) else None
    if not isinstance(head_repo, dict) or not isinstance(base_repo, dict):
        return True
    name = head_repo.get("full_name")
    return not isinstance(name, str) or not name or name != base_repo.get("full_name")


def _object(payload: dict[str, Any], key: str) -> dict[str, Any]:
    value = payload.get(key)
    if not isinstance(value, dict):
        raise Invalid(f"the payload has no {key!r} object")
    return value


def _pull(number: object, kind: str, branch: object, sha: object) -> PullRequest:
    if isinstance(number, bool) or not isinstance(number, int) or not 0 < number < 10**9:
        raise Invalid("the payload has no valid pull request number")
    if not isinstance(branch, str) or not branch:
        raise Invalid("the payload has no head branch")
    commit = commit_or_none(sha)
    if commit is None:
        raise Invalid("the payload has no head commit")
    return PullRequest(number, kind, branch, commit)
