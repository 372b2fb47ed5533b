"""Reading the files users hand us: plain or gzip-compressed, or standard input for `-`.

Text is UTF-8, or UTF-16 with its byte order mark: what Windows PowerShell's `>` writes when
a dump is captured with `kubectl exec … -- iptables-save > node.txt`. A byte order mark is no
part of the dump and is dropped.

Also tells an ipset dump from an iptables one by its first meaningful line, so every command
takes either without a flag.
"""

from __future__ import annotations

import gzip
import re
import sys
from pathlib import Path

__all__ = ["InputError", "detect_kind", "read_text"]


class InputError(OSError):
    """A file that cannot be read (missing, unreadable, not text)."""


def read_text(path: str | Path) -> tuple[str, str]:
    """(name to show in messages, text) for a path, a .gz file or `-` (standard input)."""
    if str(path) == "-":
        data = sys.stdin.buffer.read()
        name = "<stdin>"
    else:
        name = str(path)
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            raise InputError(f"{name}: no such file") from None
        except IsADirectoryError:
            raise InputError(f"{name}: is a directory") from None
        except OSError as exc:
            raise InputError(f"{name}: {exc.strerror}") from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise InputError(f"{name}: bad gzip data ({exc})") from None
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return name, data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError(f"{name}: bad UTF-16 text at byte {exc.start}") from None
    if b"\x00" in data[:8192]:
        raise InputError(f"{name}: binary data, not a text dump")
    return name, data.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="surrogateescape")


_IPSET_SAVE = re.compile(r"^(?:create|add|-N|-A)\s+\S+\s", re.M)
_IPSET_LIST = re.compile(r"^Name:\s", re.M)
_IPTABLES = re.compile(r"^(?:\*[a-z]+\s*$|:\S+\s|-A\s|\[\d+:\d+\]\s)", re.M)


def detect_kind(text: str) -> str:
    """'iptables', 'ipset-save' or 'ipset-list', from the first line that tells."""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if _IPSET_LIST.match(stripped):
            return "ipset-list"
        if stripped.startswith(("create ", "add ")):
            return "ipset-save"
        if _IPTABLES.match(stripped):
            return "iptables"
    return "iptables"
