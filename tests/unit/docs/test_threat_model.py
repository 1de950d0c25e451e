"""docs/security.md names, for each boundary, the test that proves it: those tests exist."""

from __future__ import annotations

import ast
import fnmatch
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
# `tests/x/test_y.py::test_name`, or `::test_name` for the file named before it in the row.
_REFERENCE = re.compile(r"`((?:tests/[\w/]+\.py)?)(?:::([\w*\[\]|-]+))?`")


def test_every_test_the_threat_model_names_exists() -> None:
    text = (ROOT / "docs" / "security.md").read_text()
    named = 0
    for row in (line for line in text.splitlines() if line.startswith("|")):
        current: Path | None = None
        for path, name in _REFERENCE.findall(row):
            if path:
                current = ROOT / path
                assert current.is_file(), f"docs/security.md names a missing file: {path}"
            if not name:
                continue
            assert current is not None, f"docs/security.md: ::{name} without a file before it"
            tests = {
                node.name
                for node in ast.walk(ast.parse(current.read_text()))
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            }
            wanted = name.split("[")[0]
            assert fnmatch.filter(tests, wanted), f"no test {wanted} in {current.name}"
            named += 1
    assert named >= 20  # the page names a test for each boundary
