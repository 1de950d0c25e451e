"""The Kafka record of an envelope: keyed by subject, JSON value, id and type in headers."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from skyforge.adapters.kafka import record_of
from skyforge.kernel.stream import Envelope


def test_a_record_is_keyed_by_subject_and_round_trips_the_envelope() -> None:
    envelope = Envelope(
        "01jabcdefghjkmnpqrstvwxyz0",
        "deploy.succeeded",
        "shop",
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "alice@example.com",
        {"service": "web", "release": 3},
    )
    key, value, headers = record_of(envelope)
    assert key == b"shop"  # one project: one partition, in order
    assert Envelope.from_json(json.loads(value)) == envelope
    assert dict(headers) == {"id": envelope.id.encode(), "type": b"deploy.succeeded"}
