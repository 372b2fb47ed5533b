"""The kernel's jhash2 (Bob Jenkins' lookup3), to know which hash bucket an entry is in.

Only one lookup depends on buckets: hash:net,iface stops at the first prefix where its
bucket holds an entry with the packet's network, and an entry of the same network that is
(or is not) a bridge port lands in the same bucket by chance of the hash. The dump says the
seed (`initval`) and the table size (`hashsize`), so the chance can be computed. Written from
the algorithm's description; the kernel test checks it against the kernel.
"""

from __future__ import annotations

import struct

__all__ = ["jhash2", "netiface_bucket"]

_M = 0xFFFFFFFF
_GOLDEN = 0xDEADBEEF  # JHASH_INITVAL


def _rol(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _M


def _mix(a: int, b: int, c: int) -> tuple[int, int, int]:
    a = (a - c) & _M
    a ^= _rol(c, 4)
    c = (c + b) & _M
    b = (b - a) & _M
    b ^= _rol(a, 6)
    a = (a + c) & _M
    c = (c - b) & _M
    c ^= _rol(b, 8)
    b = (b + a) & _M
    a = (a - c) & _M
    a ^= _rol(c, 16)
    c = (c + b) & _M
    b = (b - a) & _M
    b ^= _rol(a, 19)
    a = (a + c) & _M
    c = (c - b) & _M
    c ^= _rol(b, 4)
    b = (b + a) & _M
    return a, b, c


def _final(a: int, b: int, c: int) -> int:
    c ^= b
    c = (c - _rol(b, 14)) & _M
    a ^= c
    a = (a - _rol(c, 11)) & _M
    b ^= a
    b = (b - _rol(a, 25)) & _M
    c ^= b
    c = (c - _rol(b, 16)) & _M
    a ^= c
    a = (a - _rol(c, 4)) & _M
    b ^= a
    b = (b - _rol(a, 14)) & _M
    c ^= b
    return (c - _rol(b, 24)) & _M


def jhash2(words: list[int], initval: int) -> int:
    """jhash2() of 32-bit words."""
    a = b = c = (_GOLDEN + (len(words) << 2) + initval) & _M
    rest = list(words)
    while len(rest) > 3:
        a, b, c = (a + rest[0]) & _M, (b + rest[1]) & _M, (c + rest[2]) & _M
        a, b, c = _mix(a, b, c)
        rest = rest[3:]
    if not rest:
        return c
    if len(rest) == 3:
        c = (c + rest[2]) & _M
    if len(rest) >= 2:
        b = (b + rest[1]) & _M
    a = (a + rest[0]) & _M
    return _final(a, b, c)


def netiface_bucket(address: int, bits: int, physdev: bool, cidr: int, initval: int,
                    hashsize: int) -> int:
    """The bucket of a hash:net,iface key: the address (network byte order), then the
    physdev, cidr, nomatch (0 while hashing) and elem (1) bytes, read as the little-endian
    words of an x86 kernel."""
    raw = address.to_bytes(bits // 8, "big") + bytes((int(physdev), cidr, 0, 1))
    words = list(struct.unpack(f"<{len(raw) // 4}I", raw))
    return jhash2(words, initval) & (hashsize - 1)
