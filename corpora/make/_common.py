"""What every corpus script shares: the repository on sys.path, namespaces with chosen names,
and saving tables exactly as the tools print them.

The scripts run as `python3 corpora/make/NAME.py` from the repository root. Everything they do
happens inside network namespaces they create and always delete; the host's own rules and sets
are never read or touched.
"""

from __future__ import annotations

import atexit
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from iptparse.sandbox.netns import run_tool  # noqa: E402

CORPORA = ROOT / "corpora"
_live: list[str] = []


def _cleanup() -> None:
    for name in reversed(_live):
        subprocess.run(["ip", "netns", "delete", name], capture_output=True, check=False)
    _live.clear()


atexit.register(_cleanup)


class Namespace:
    """A network namespace with exactly this name, deleted when the block ends."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> Namespace:
        run_tool(["ip", "netns", "add", self.name])
        _live.append(self.name)
        self.run(["ip", "link", "set", "lo", "up"])
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self.name in _live:
            subprocess.run(["ip", "netns", "delete", self.name], capture_output=True,
                           check=False)
            _live.remove(self.name)

    def run(self, argv: Sequence[str], *, input: str | None = None, check: bool = True,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return run_tool(["ip", "netns", "exec", self.name, *argv], input=input, check=check,
                        timeout=timeout)

    def sysctl(self, **settings: str | int) -> None:
        """`net__ipv4__ip_forward=1` style keys: dots are spelled as double underscores."""
        args = [f"{key.replace('__', '.')}={value}" for key, value in settings.items()]
        self.run(["sysctl", "-q", "-w", *args])


def save_tables(ns: Namespace, tables: Sequence[str], *, ipv6: bool = False,
                counters: bool = False) -> str:
    """`iptables-legacy-save -t T` for each table, concatenated, `#` lines kept as printed."""
    tool = "ip6tables-legacy-save" if ipv6 else "iptables-legacy-save"
    flags = ["-c"] if counters else []
    return "".join(ns.run([tool, *flags, "-t", t]).stdout for t in tables)


def write(relative: str, text: str) -> Path:
    """Write a corpus file under corpora/ and say so."""
    path = CORPORA / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote {path.relative_to(ROOT)} ({len(text.splitlines())} lines)")
    return path
