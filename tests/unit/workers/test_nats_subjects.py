"""Names on NATS: nothing a project or group name holds can widen a subject."""

from __future__ import annotations

import pytest

from skyforge.adapters.nats.subjects import check_name, check_prefix, durable_of, subject_of
from skyforge.kernel.errors import Invalid


def test_an_event_goes_to_prefix_project_type() -> None:
    assert subject_of("skyforge", "shop", "deploy.succeeded") == "skyforge.shop.deploy.succeeded"
    assert subject_of("a.b", "web-1", "project.created") == "a.b.web-1.project.created"


def test_platform_wide_and_odd_subjects_go_under_underscore() -> None:
    assert subject_of("skyforge", "-", "secret.key_rotated") == "skyforge._.secret.key_rotated"
    for odd in ("a.b", "*", ">", "a b", ""):
        assert subject_of("skyforge", odd, "x.y") == "skyforge._.x.y"


@pytest.mark.parametrize("bad", ["Deploy.Done", "a.*", "a.>", "a b", "", ".a", "a..b"])
def test_an_event_type_that_would_widen_a_subject_is_refused(bad: str) -> None:
    with pytest.raises(Invalid):
        subject_of("skyforge", "shop", bad)


@pytest.mark.parametrize("bad", ["", "a.", ".a", "a.*", ">", "a b", "a..b"])
def test_a_prefix_with_wildcards_or_empty_tokens_is_refused(bad: str) -> None:
    with pytest.raises(Invalid):
        check_prefix(bad)


def test_stream_and_group_names_are_single_tokens() -> None:
    assert check_name("SKYFORGE") == "SKYFORGE"
    assert durable_of("webhooks.v2") == "webhooks_v2"
    for bad in ("a.b", "a*", "a>", "a b", ""):
        with pytest.raises(Invalid):
            check_name(bad)
    with pytest.raises(Invalid):
        durable_of("a b")
