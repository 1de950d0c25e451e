"""The local runtime: each instance a supervised process on this host (the default)."""

from skyforge.runtimes.local.runtime import LocalRuntime

__all__ = ["LocalRuntime"]
