"""Values the kernel computes from header fields: HMARK's hash and NPT's prefix translation.

Both are pure functions of fields a trace may know exactly, so a concrete packet gets the very
mark / address the kernel would give it (checked against the kernel by the target tests).
"""

from __future__ import annotations

from ..jhash import jhash2

__all__ = ["HMARK_PORT_PROTOCOLS", "hmark_hash", "npt_adjustment", "npt_map"]

_U32 = 0xFFFFFFFF
#: proto_ports_offset(): protocols whose first four bytes after the IP header are ports (ESP's
#: are its SPI, AH's sit at offset 4).
HMARK_PORT_PROTOCOLS = frozenset({6, 17, 33, 50, 132, 136})


def _fold_v6(address: int, mask: int) -> int:
    """hmark_addr6_mask(): the four masked 32-bit words XORed together."""
    masked = address & mask
    out = 0
    for shift in (96, 64, 32, 0):
        out ^= (masked >> shift) & _U32
    return out


def hmark_hash(src: int, dst: int, ports: int, proto: int, *, v6: bool, src_mask: int,
               dst_mask: int, port_mask: int, port_set: int, proto_mask: int, rnd: int,
               modulus: int, offset: int) -> int:
    """hmark_hash() of one tuple; `ports` is sport << 16 | dport, or None-equivalent -1 for a
    protocol without ports (the kernel then hashes zero ports, unmasked and unset)."""
    if v6:
        a, b = _fold_v6(src, src_mask), _fold_v6(dst, dst_mask)
    else:
        a, b = src & src_mask, dst & dst_mask
    if b < a:
        a, b = b, a
    if ports < 0:
        word = 0
    else:
        # hmark_swap_ports(): mask, or in the set bits, then the larger port goes high
        value = (ports & port_mask) | port_set
        high, low = value >> 16, value & 0xFFFF
        word = (low << 16) | high if low > high else (high << 16) | low
    hashed = jhash2((a, b, word), rnd) ^ (proto & proto_mask)
    return (((hashed * modulus) >> 32) + offset) & _U32


def _ones_add(a: int, b: int) -> int:
    """One's complement addition of 16-bit words with the end-around carry."""
    total = a + b
    return (total & 0xFFFF) + (total >> 16)


def _ones_sum(address: int) -> int:
    total = 0
    for shift in range(112, -1, -16):
        total = _ones_add(total, (address >> shift) & 0xFFFF)
    return total


def npt_adjustment(src_prefix: int, dst_prefix: int) -> int:
    """ip6t_npt_checkentry(): the checksum-neutral difference of the two prefixes."""
    return _ones_add(_ones_sum(src_prefix), 0xFFFF ^ _ones_sum(dst_prefix))


def npt_map(address: int, dst_prefix: int, length: int, adjustment: int) -> int | None:
    """ip6t_npt_map_pfx(): the prefix replaced and one 16-bit word adjusted; None when the
    kernel finds no word to adjust (it drops the packet)."""
    host = (1 << (128 - length)) - 1
    mapped = (address & host) | (dst_prefix & ~host & ((1 << 128) - 1))
    if length <= 48:
        index = 3
    else:
        index = next((i for i in range(4, 8) if _word(mapped, i) != 0xFFFF), 8)
        if index == 8:
            return None
    word = _ones_add(_word(mapped, index), adjustment)
    if word == 0xFFFF:
        word = 0
    shift = 112 - 16 * index
    return (mapped & ~(0xFFFF << shift)) | (word << shift)


def _word(address: int, index: int) -> int:
    return (address >> (112 - 16 * index)) & 0xFFFF
