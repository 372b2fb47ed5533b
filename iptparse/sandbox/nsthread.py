"""Open sockets and /proc files inside a named network namespace without a subprocess.

A socket belongs to the namespace its creating thread was in, and keeps it for life; so does a
`/proc/thread-self/net/...` file. The lab needs a few of each per namespace, used for every
packet: creating them once in a short-lived thread that joined the namespace (setns affects the
calling thread only) makes each later use a plain syscall, and the caller's own threads never
leave the host namespace, even if the work fails half-way.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable
from typing import TypeVar

__all__ = ["NETNS_DIR", "call_in_netns", "open_proc_net", "read_whole"]

T = TypeVar("T")

#: Where `ip netns add` pins the namespaces it creates.
NETNS_DIR = "/run/netns"
_CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    native = getattr(os, "setns", None)  # Python 3.12+
    if native is not None:
        native(fd, _CLONE_NEWNET)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def call_in_netns(name: str, fn: Callable[[], T]) -> T:
    """`fn()` run by a fresh thread inside namespace `name`; its result or exception."""
    outcome: list[T] = []
    failure: list[BaseException] = []

    def work() -> None:
        try:
            fd = os.open(os.path.join(NETNS_DIR, name), os.O_RDONLY | os.O_CLOEXEC)
            try:
                _setns(fd)
            finally:
                os.close(fd)
            outcome.append(fn())
        except BaseException as exc:  # handed to the caller's thread below
            failure.append(exc)

    thread = threading.Thread(target=work, name=f"netns-{name}", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0]


def open_proc_net(name: str, files: tuple[str, ...]) -> dict[str, int]:
    """File descriptors of `/proc/net/<file>` as namespace `name` sees them."""

    def opener() -> dict[str, int]:
        fds: dict[str, int] = {}
        try:
            for f in files:
                fds[f] = os.open(f"/proc/thread-self/net/{f}", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            for fd in fds.values():
                os.close(fd)
            raise
        return fds

    return call_in_netns(name, opener)


def read_whole(fd: int) -> str:
    """The current text of a /proc file: seq files regenerate when read again from 0."""
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks).decode()
