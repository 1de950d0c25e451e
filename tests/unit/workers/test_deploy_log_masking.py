"""The deploy log masks secret values before a line is stored (a fake unit of work, no I/O)."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from skyforge.kernel.masking import Masker
from skyforge.workers.deploy_log import MAX_LINE, DeployLogWriter

SECRET = "s3cr3t-api-key-value"
PEM = "-----BEGIN KEY-----\nAAAABBBBCCCC\nDDDDEEEEFFFF\n-----END KEY-----"


class FakeLogs:
    def __init__(self) -> None:
        self.lines: list[str] = []

    async def last_seq(self, _deploy_id: str) -> int:
        return len(self.lines)

    async def append(self, _deploy_id: str, _first: int, lines: list[str]) -> None:
        self.lines += lines


class FakeUnitOfWork:
    def __init__(self, logs: FakeLogs) -> None:
        self.deploy_logs = logs

    async def __aenter__(self) -> FakeUnitOfWork:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def commit(self) -> None:
        return None


async def written(*lines: str, masked: tuple[str, ...] = (), later: tuple[str, ...] = ()) -> str:
    logs = FakeLogs()
    uow: Any = lambda: FakeUnitOfWork(logs)  # noqa: E731
    async with DeployLogWriter(uow, "d", masked=masked) as log:
        log.mask(later)
        for line in lines:
            log(line)
    return "\n".join(logs.lines)


async def test_a_line_printing_a_secret_is_stored_with_stars() -> None:
    text = await written(f"API_KEY is {SECRET}!", masked=(SECRET,))
    assert text == "API_KEY is ****!"


async def test_values_given_later_are_masked_in_the_lines_that_follow() -> None:
    text = await written(f"{SECRET} {SECRET}", "plain line", later=(SECRET,))
    assert text == "**** ****\nplain line"


async def test_a_multi_line_secret_is_masked_whole_and_line_by_line() -> None:
    text = await written(PEM, *PEM.split("\n"), later=(PEM,))
    assert "AAAABBBB" not in text and "DDDDEEEE" not in text
    assert text.startswith("****\n")


async def test_a_secret_longer_than_a_stored_line_leaves_no_piece_behind() -> None:
    long_secret = "k" * (MAX_LINE + 100)
    text = await written(f"value={long_secret}", later=(long_secret,))
    assert text == "value=****"


def test_the_longest_value_wins_and_tiny_values_are_not_masked() -> None:
    mask = Masker(["abcd", "abcdefgh", "xyz"])
    assert mask("abcdefgh abcd xyz") == "**** **** xyz"
