"""The in-process feed: what the relay hands it reaches every group once and every watcher."""

from __future__ import annotations

from datetime import UTC, datetime

from skyforge.kernel.stream import Envelope
from skyforge.workers.local_feed import InProcessFeed


def envelope(n: int) -> Envelope:
    return Envelope(f"{n:026d}", "test.ticked", "shop", datetime.now(UTC), None, {"n": n})


async def test_every_group_and_every_watcher_gets_each_event_in_order() -> None:
    feed = InProcessFeed()
    got: dict[str, list[int]] = {"a": [], "b": [], "live": []}

    async def a(e: Envelope) -> None:
        got["a"].append(e.payload["n"])

    async def b(e: Envelope) -> None:
        got["b"].append(e.payload["n"])

    async def live(e: Envelope) -> None:
        got["live"].append(e.payload["n"])

    feed.consume("a", a)
    feed.consume("b", b)
    feed.broadcast(live)
    assert await feed.send([envelope(n) for n in range(5)]) == 5
    assert got == {"a": [0, 1, 2, 3, 4], "b": [0, 1, 2, 3, 4], "live": [0, 1, 2, 3, 4]}


async def test_a_failing_group_stops_the_batch_there_and_only_it_runs_again() -> None:
    feed = InProcessFeed()
    good: list[int] = []
    flaky: list[int] = []
    live: list[int] = []
    failures = {"left": 1}

    async def on_good(e: Envelope) -> None:
        good.append(e.payload["n"])

    async def on_flaky(e: Envelope) -> None:
        if e.payload["n"] == 1 and failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("later")
        flaky.append(e.payload["n"])

    async def on_live(e: Envelope) -> None:
        live.append(e.payload["n"])

    feed.consume("good", on_good)
    feed.consume("flaky", on_flaky)
    feed.broadcast(on_live)
    batch = [envelope(n) for n in range(3)]
    assert await feed.send(batch) == 1  # the relay keeps rows 1 and 2 and retries them
    assert await feed.send(batch[1:]) == 2
    assert good == [0, 1, 2]  # not run again for event 1
    assert flaky == [0, 1, 2]
    assert live == [0, 1, 2]  # watchers too saw event 1 once


async def test_a_group_that_always_fails_gives_up_after_its_attempts() -> None:
    feed = InProcessFeed(max_attempts=3)
    calls: list[int] = []

    async def broken(e: Envelope) -> None:
        calls.append(e.payload["n"])
        raise RuntimeError("never")

    feed.consume("broken", broken)
    one = [envelope(7)]
    assert await feed.send(one) == 0
    assert await feed.send(one) == 0
    assert await feed.send(one) == 1  # the third failure: logged and given up
    assert calls == [7, 7, 7]
