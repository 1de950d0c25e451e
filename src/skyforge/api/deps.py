from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from skyforge.bootstrap import Platform


def _platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(_platform)]
