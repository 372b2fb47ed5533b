"""Bob Jenkins' lookup3 hash as the Linux kernel's <linux/jhash.h> computes it (32-bit words).

The kernel picks with it what a dump cannot show directly: the cluster node a connection
belongs to (xt_cluster), the mark HMARK gives a flow, and the hash bucket an ipset entry sits in
(hash:net,iface stops at the first bucket holding its network). Reproducing it lets a trace
compute those instead of assuming them. It lives at the top of the package because both the
extensions and the ipset model use it and neither should import the other for it. Written from
the algorithm's description; the ipset and target kernel tests check it against the kernel.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["jhash2", "jhash_1word"]

_MASK = 0xFFFFFFFF
_INITVAL = 0xDEADBEEF  # JHASH_INITVAL


def _rol(word: int, shift: int) -> int:
    return ((word << shift) | (word >> (32 - shift))) & _MASK


def _final(a: int, b: int, c: int) -> int:
    """lookup3's final mixing of three words; the hash is the last word."""
    m = _MASK
    c = ((c ^ b) - _rol(b, 14)) & m
    a = ((a ^ c) - _rol(c, 11)) & m
    b = ((b ^ a) - _rol(a, 25)) & m
    c = ((c ^ b) - _rol(b, 16)) & m
    a = ((a ^ c) - _rol(c, 4)) & m
    b = ((b ^ a) - _rol(a, 14)) & m
    return ((c ^ b) - _rol(b, 24)) & m


def _mix(a: int, b: int, c: int) -> tuple[int, int, int]:
    """lookup3's reversible mixing between 12-byte blocks."""
    m = _MASK
    a = ((a - c) & m) ^ _rol(c, 4)
    c = (c + b) & m
    b = ((b - a) & m) ^ _rol(a, 6)
    a = (a + c) & m
    c = ((c - b) & m) ^ _rol(b, 8)
    b = (b + a) & m
    a = ((a - c) & m) ^ _rol(c, 16)
    c = (c + b) & m
    b = ((b - a) & m) ^ _rol(a, 19)
    a = (a + c) & m
    c = ((c - b) & m) ^ _rol(b, 4)
    b = (b + a) & m
    return a, b, c


def jhash_1word(word: int, initval: int) -> int:
    """jhash_1word(): one word, seeded with `initval`."""
    start = (initval + _INITVAL + 4) & _MASK
    return _final((word + start) & _MASK, start, start)


def jhash2(words: Sequence[int], initval: int) -> int:
    """jhash2(k, len(k), initval) of 32-bit words."""
    a = b = c = (_INITVAL + (len(words) << 2) + initval) & _MASK
    rest = list(words)
    while len(rest) > 3:
        a, b, c = (a + rest[0]) & _MASK, (b + rest[1]) & _MASK, (c + rest[2]) & _MASK
        a, b, c = _mix(a, b, c)
        rest = rest[3:]
    if not rest:
        return c
    padded = rest + [0] * (3 - len(rest))
    return _final((a + padded[0]) & _MASK, (b + padded[1]) & _MASK, (c + padded[2]) & _MASK)
