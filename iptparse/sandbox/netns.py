"""A network namespace that cleans up after itself, and the tools run inside it.

Namespaces are named `iptp-<pid>-<n>` so concurrent runs never collide, and they are deleted
on exit, on error and on Ctrl-C (the context manager, plus an atexit hook for the rest).
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import subprocess
from collections.abc import Sequence
from types import TracebackType

__all__ = ["Netns", "SandboxUnavailable", "missing_tools", "run_tool"]

_counter = itertools.count()
_live: set[str] = set()

REQUIRED_TOOLS = ("ip", "iptables-legacy-restore", "iptables-legacy-save", "ipset")


class SandboxUnavailable(RuntimeError):
    """The machine cannot host a sandbox: not root, or tools missing (the message says which)."""


def missing_tools(tools: Sequence[str] = REQUIRED_TOOLS) -> list[str]:
    """What is missing to run sandboxes here: tool names, or 'root' when not running as root."""
    missing = [t for t in tools if shutil.which(t) is None]
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        missing.insert(0, "root")
    return missing


def run_tool(argv: Sequence[str], *, input: str | None = None, check: bool = True,
             timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a command and capture its text output; a failure raises with its stderr."""
    result = subprocess.run(
        list(argv), input=input, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise subprocess.CalledProcessError(
            result.returncode, list(argv), result.stdout, result.stderr
        )
    return result


def _cleanup_all() -> None:
    for name in list(_live):
        subprocess.run(["ip", "netns", "delete", name], capture_output=True, check=False)
        _live.discard(name)


atexit.register(_cleanup_all)


class Netns:
    """`with Netns() as ns: ns.run([...])`: a fresh namespace, deleted when the block ends."""

    def __init__(self, prefix: str = "iptp") -> None:
        self.name = f"{prefix}-{os.getpid()}-{next(_counter)}"
        self.created = False

    def __enter__(self) -> Netns:
        missing = missing_tools(("ip",))
        if missing:
            raise SandboxUnavailable(
                f"cannot create a network namespace: missing {', '.join(missing)}")
        run_tool(["ip", "netns", "add", self.name])
        self.created = True
        _live.add(self.name)
        self.run(["ip", "link", "set", "lo", "up"])
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self.created:
            # sets live in the namespace and go with it; flush first so none stays referenced
            subprocess.run(["ip", "netns", "exec", self.name, "ipset", "destroy"],
                           capture_output=True, check=False)
            subprocess.run(["ip", "netns", "delete", self.name], capture_output=True,
                           check=False)
            _live.discard(self.name)
            self.created = False

    def run(self, argv: Sequence[str], *, input: str | None = None, check: bool = True,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return run_tool(["ip", "netns", "exec", self.name, *argv], input=input, check=check,
                        timeout=timeout)
