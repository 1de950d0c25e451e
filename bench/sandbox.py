"""What the sandbox costs a process start: `true` and `python3 -c pass`, plain and sandboxed.

Run as root (the sandbox gives each service its own uid): python bench/sandbox.py
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from skyforge.adapters.builders.stack import system_python
from skyforge.adapters.sandbox import sandbox_of
from skyforge.kernel.limits import Limits

RUNS = 50


def median_ms(argv: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run(argv, check=True)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        slug = Path(tmp) / "slug"
        slug.mkdir()
        jail = sandbox_of(Path(tmp) / "data").jail("bench.web", Limits())
        jail.own(slug)
        for what, argv in (
            ("true", ["/bin/true"]),
            ("python -c pass", [system_python(), "-c", "pass"]),
        ):
            plain = median_ms(argv)
            boxed = median_ms(jail.command(argv, cwd=slug, writable=[slug]))
            print(
                f"{what:16} plain {plain:6.1f} ms   sandboxed {boxed:6.1f} ms   (median of {RUNS})"
            )


if __name__ == "__main__":
    main()
