"""Free TCP ports on 127.0.0.1 for web instances."""

from __future__ import annotations

import socket


def port_is_free(port: int) -> bool:
    """Whether a server could bind 127.0.0.1:port now (with SO_REUSEADDR, like servers do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class PortAllocator:
    """Hands out ports the kernel reports free and that no instance of ours holds.

    Between our choice and the app's bind() the port is only reserved in memory, so two
    instances starting at once must not be given the same one.
    """

    def __init__(self) -> None:
        self._taken: set[int] = set()

    def allocate(self, prefer: int | None = None) -> int:
        """`prefer` when it is free, else a new free port; reserved until release()."""
        if prefer is not None and prefer not in self._taken and port_is_free(prefer):
            self._taken.add(prefer)
            return prefer
        for _ in range(100):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind(("127.0.0.1", 0))
                port = int(sock.getsockname()[1])
            if port not in self._taken:
                self._taken.add(port)
                return port
        raise OSError("no free port found")

    def claim(self, port: int) -> None:
        """Mark a port held by an adopted instance."""
        self._taken.add(port)

    def release(self, port: int | None) -> None:
        """The instance holding `port` is gone."""
        if port is not None:
            self._taken.discard(port)
