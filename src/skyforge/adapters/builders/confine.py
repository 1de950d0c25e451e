"""Links out of a fetched source are removed before any step of the build can follow them.

A repository may hold symbolic links to anything (`leak.txt -> /data/master.keys`,
`up -> ../../..`): a build tool that reads `requirements.txt` or copies `assets/` would follow
them as the control plane's user. What leads outside the source is deleted from the slug before
the build looks at it; links that stay inside are kept. A regular file with another hard link
goes too: it cannot be told apart from a file outside (git never makes one).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def drop_links_out(root: Path) -> list[str]:
    """Delete every link under root that leads outside it; their paths, relative to root."""
    real = os.path.realpath(root)
    dropped: list[str] = []
    # os.walk does not descend into links to directories: only the tree itself is walked.
    for top, dirs, files in os.walk(real):
        for name in (*dirs, *files):
            path = os.path.join(top, name)
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                target = os.path.realpath(path)
                out = target != real and not target.startswith(real + os.sep)
            else:
                out = stat.S_ISREG(info.st_mode) and info.st_nlink > 1
            if out:
                os.unlink(path)
                dropped.append(os.path.relpath(path, real))
    return sorted(dropped)


def describe(paths: list[str], limit: int = 10) -> str:
    """A one-line list of paths for the build log (escaped: a name may hold a newline)."""
    shown = [p.encode("unicode_escape", "backslashreplace").decode("ascii") for p in paths]
    more = f" and {len(paths) - limit} more" if len(paths) > limit else ""
    return ", ".join(shown[:limit]) + more
