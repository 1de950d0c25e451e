"""Masking benchmark: how many lines of app output per second the secret masker gets through.

With 20 secrets (24-40 characters, some with characters URL-encoding changes), each masked raw,
in base64 (two alphabets, three alignments), hex and URL-encoded, prints lines/s and MB/s for
lines of ~100 characters (1 in 100 printing a secret in some form), masked:
- one line at a time (the release phase and the deploy log), and
- in 64 KiB chunks (the log relay of every app process);
next to a masker of raw values only, and to one plain alternation of the same literals (longest
first) in place of the trie the masker builds.

Run: .venv/bin/python bench/masking.py [--lines 200000] [--secrets 20]
"""

from __future__ import annotations

import argparse
import base64
import random
import re
import string
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote_plus

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from skyforge.kernel.masking import MASK, Masker, compile_literals, encoded_forms  # noqa: E402

WORDS = ["GET", "POST", "/api/v1/items", "user=sam", "status=200", "took", "ms", "request", "id"]


def make_secrets(rng: random.Random, count: int) -> list[str]:
    alphabet = string.ascii_letters + string.digits
    secrets = []
    for i in range(count):
        value = "".join(rng.choices(alphabet, k=rng.randint(24, 40)))
        if i % 4 == 0:  # a password-like value: URL-encoding changes it
            value = value[:10] + "@/+ &" + value[10:]
        secrets.append(value)
    return secrets


def make_lines(rng: random.Random, secrets: list[str], count: int) -> list[str]:
    lines = []
    for i in range(count):
        words = rng.choices(WORDS, k=12)
        words.append(f"trace={rng.getrandbits(64):016x}")
        if i % 100 == 0:
            value = rng.choice(secrets).encode()
            form = rng.choice(
                [
                    value.decode(),
                    value.hex(),
                    base64.b64encode(b"user:" + value).decode(),
                    quote_plus(value.decode()),
                ]
            )
            words.insert(rng.randrange(len(words)), form)
        lines.append(" ".join(words)[:100] + "\n")
    return lines


def rate(mask: Callable[[str], str], lines: list[str], chunked: bool) -> tuple[float, float]:
    """(lines/s, MB/s) of masking all lines, one by one or joined in 64 KiB chunks."""
    if chunked:
        text = "".join(lines)
        items = [text[i : i + 65536] for i in range(0, len(text), 65536)]
    else:
        items = lines
    size = sum(len(item) for item in items)
    started = time.perf_counter()
    for item in items:
        mask(item)
    took = time.perf_counter() - started
    return len(lines) / took, size / took / 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--secrets", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(1)
    secrets = make_secrets(rng, args.secrets)
    lines = make_lines(rng, secrets, args.lines)

    full = Masker(secrets)
    needles = set(secrets).union(*(encoded_forms(s) for s in secrets))
    raw = compile_literals(secrets)
    plain = re.compile("|".join(re.escape(n) for n in sorted(needles, key=lambda n: -len(n))))
    maskers: dict[str, Callable[[str], str]] = {
        "every encoding (trie)": full,
        "every encoding (plain alternation)": lambda text: plain.sub(MASK, text),
        "raw values only (trie)": lambda text: raw.sub(MASK, text),
    }
    print(f"{args.secrets} secrets, {len(needles)} masked forms, {args.lines} lines of ~100 chars")
    for name, mask in maskers.items():
        one = rate(mask, lines, chunked=False)
        chunk = rate(mask, lines, chunked=True)
        print(
            f"  {name:36s} by line {one[0]:>10,.0f} lines/s ({one[1]:5.1f} MB/s)"
            f"   in 64 KiB chunks {chunk[0]:>10,.0f} lines/s ({chunk[1]:5.1f} MB/s)"
        )


if __name__ == "__main__":
    main()
