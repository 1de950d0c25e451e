"""The push protocol pieces SkyForge reads and rewrites (pure, no git involved)."""

from __future__ import annotations

from skyforge.adapters.git.pktline import (
    FLUSH,
    PktReader,
    PushCommands,
    accepted,
    band,
    pkt,
    rewrite_status,
)

OLD, NEW = "a" * 40, "b" * 40


def test_the_commands_of_a_push_are_read_even_when_split_across_chunks() -> None:
    caps = b"\0report-status-v2 side-band-64k quiet object-format=sha1 agent=git/2.39"
    body = pkt(f"{OLD} {NEW} refs/heads/main".encode() + caps + b"\n") + FLUSH + b"PACK\x00\x00"
    commands = PushCommands()

    for i in range(0, len(body), 7):
        commands.feed(body[i : i + 7])

    assert commands.done and commands.sideband
    assert [(u.old, u.new, u.ref) for u in commands.updates] == [(OLD, NEW, "refs/heads/main")]


def test_a_refused_update_becomes_ng_and_its_v2_options_are_dropped() -> None:
    status = (
        pkt(b"unpack ok\n")
        + pkt(b"ok refs/heads/main\n")
        + pkt(b"option refname refs/heads/main\n")
        + pkt(b"ok refs/heads/other\n")
        + FLUSH
    )

    rewritten = rewrite_status(status, {"refs/heads/main": "deploy failed"})

    lines = PktReader().feed(rewritten)
    assert lines == [
        b"unpack ok\n",
        b"ng refs/heads/main deploy failed\n",
        b"ok refs/heads/other\n",
        None,
    ]
    assert accepted(status) == {"refs/heads/main", "refs/heads/other"}
    assert accepted(pkt(b"unpack index-pack abnormal exit\n") + FLUSH) == set()


def test_sideband_data_is_split_into_packets_git_accepts() -> None:
    framed = band(2, b"x" * 70000)

    packets = PktReader().feed(framed)

    assert [len(p or b"") for p in packets] == [65516, 70000 - 65515 + 1]
    assert all(p is not None and p[:1] == b"\x02" for p in packets)
