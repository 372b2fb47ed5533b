"""Which hash bucket an ipset entry is in: the kernel's jhash2 over the entry's key.

Only one lookup depends on buckets: hash:net,iface stops at the first prefix where its
bucket holds an entry with the packet's network, and an entry of the same network that is
(or is not) a bridge port lands in the same bucket by chance of the hash. The dump says the
seed (`initval`) and the table size (`hashsize`), so the chance can be computed; the hash
itself is iptparse.jhash, shared with the extensions. The kernel test checks it against the
kernel.
"""

from __future__ import annotations

import struct

from ..jhash import jhash2

__all__ = ["netiface_bucket"]


def netiface_bucket(address: int, bits: int, physdev: bool, cidr: int, initval: int,
                    hashsize: int) -> int:
    """The bucket of a hash:net,iface key: the address (network byte order), then the
    physdev, cidr, nomatch (0 while hashing) and elem (1) bytes, read as the little-endian
    words of an x86 kernel."""
    raw = address.to_bytes(bits // 8, "big") + bytes((int(physdev), cidr, 0, 1))
    words = list(struct.unpack(f"<{len(raw) // 4}I", raw))
    return jhash2(words, initval) & (hashsize - 1)
