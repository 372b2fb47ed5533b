"""Strings as the C structures of the match modules hold them: bytes, cut to a fixed size.

iptables copies option strings into fixed char arrays (helper names, nfacct and hashlimit
names…), silently truncating what does not fit, and measures limits in bytes, not characters.
"""

from __future__ import annotations

__all__ = ["byte_length", "truncate"]


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def byte_length(text: str) -> int:
    return len(_bytes(text))


def truncate(text: str, size: int) -> str:
    """What a char[size] keeps of `text` (size - 1 bytes and the terminating NUL)."""
    raw = _bytes(text)
    if len(raw) < size:
        return text
    return raw[: size - 1].decode("utf-8", "surrogateescape")
