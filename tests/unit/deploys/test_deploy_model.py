"""The Deploy life cycle, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from skyforge.deploys.model import Deploy
from skyforge.kernel.errors import Conflict

AT = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_queued_deploy_is_cancelled_at_once() -> None:
    deploy = Deploy("d", "s", "build", "queued", AT)
    assert deploy.request_cancel(AT)
    assert (deploy.status, deploy.finished) == ("cancelled", True)


def test_a_running_deploy_is_asked_to_stop() -> None:
    deploy = Deploy("d", "s", "build", "queued", AT)
    deploy.advance("building", AT)
    assert not deploy.request_cancel(AT)
    assert deploy.cancel_requested
    assert deploy.status == "building"


def test_a_finished_deploy_cannot_be_cancelled_or_restarted() -> None:
    deploy = Deploy("d", "s", "build", "queued", AT)
    deploy.finish("succeeded", AT)
    with pytest.raises(Conflict):
        deploy.request_cancel(AT)
    with pytest.raises(Conflict):
        deploy.advance("building", AT)
