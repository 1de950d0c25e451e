"""The webhooks' rules: the signature scheme, which events a subscription covers, retries."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from skyforge.kernel.errors import Invalid
from skyforge.webhooks.handlers import events_of
from skyforge.webhooks.model import Attempt, Delivery, RetryPolicy, Status, matches, sign

AT = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_signature_is_an_hmac_of_the_timestamp_and_the_body() -> None:
    body = b'{"type":"deploy.succeeded"}'
    header = sign("whsec_abc", 1700000000, body)
    expected = hmac.new(b"whsec_abc", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


def test_subscriptions_cover_exact_types_families_and_everything() -> None:
    assert matches(("*",), "deploy.succeeded")
    assert matches(("deploy.succeeded",), "deploy.succeeded")
    assert not matches(("deploy.succeeded",), "deploy.failed")
    assert matches(("deploy.*",), "deploy.failed")
    assert not matches(("deploy.*",), "deployment.failed")
    assert not matches(("service.created",), "deploy.failed")


def test_the_backoff_grows_exponentially_with_jitter_and_gives_up() -> None:
    retry = RetryPolicy(base_seconds=10, factor=3, max_attempts=8)
    delays = [retry.delay(n) for n in range(1, 8)]
    for n, delay in enumerate(delays):
        assert delay is not None
        expected = 10 * 3**n
        assert expected * 0.8 <= delay.total_seconds() <= expected * 1.2
    assert retry.delay(8) is None
    total = sum((d.total_seconds() for d in delays if d), 0.0)
    assert 2 * 3600 < total < 5 * 3600  # about three hours of retrying


def delivery() -> Delivery:
    return Delivery("d", "w", "shop", "e", "x.y", "{}", Status.PENDING, 0, AT, AT)


def test_a_delivery_records_attempts_until_success_or_giving_up() -> None:
    retry = RetryPolicy(base_seconds=1, max_attempts=2, jitter=0)
    d = delivery()
    d.record(Attempt(AT, 500, 12, None), retry)
    assert (d.status, d.attempts, d.next_attempt_at) == (
        Status.PENDING,
        1,
        AT + timedelta(seconds=1),
    )
    d.record(Attempt(AT, None, None, "timed out"), retry)
    assert (d.status, d.attempts, d.next_attempt_at) == (Status.FAILED, 2, None)
    d.redeliver(AT)
    d.record(Attempt(AT, 204, 3, None), retry)
    assert (d.status, d.delivered_at) == (Status.SUCCEEDED, AT)
    assert [a.status_code for a in d.log] == [500, None, 204]


def test_a_subscription_is_validated_against_the_known_event_types() -> None:
    known = frozenset({"deploy.succeeded", "deploy.failed", "service.created"})
    assert events_of(("deploy.failed", "deploy.failed", "deploy.*"), known) == (
        "deploy.failed",
        "deploy.*",
    )
    assert events_of(("service.created", "*"), known) == ("*",)
    for bad in ((), ("deploy.started",), ("nothing.*",), ("x" * 500,), ("a",) * 51):
        with pytest.raises(Invalid):
            events_of(bad, known)
