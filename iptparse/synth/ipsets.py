"""`ipset save` text: sets described as data, and random sets of any size for benchmarks.

The text has the exact shape ipset 7.17 prints (`create` header options in its order, members
as it spells them: a /32 or /128 network without its length, `tcp:80` for ports). Two things
only the kernel decides differ from a real `ipset save`: members come out in hash order, not in
the order written here, and the kernel grows `hashsize` when a bucket overflows. `generate`
picks a hashsize with room for every member so the header survives a restore unchanged, and
writes `initval` (otherwise random per boot) so that the text is the same on every run.
"""

from __future__ import annotations

import hashlib
import ipaddress
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["SET_TYPES", "SetSpec", "generate", "render_save"]

#: Set types `generate` can fill.
SET_TYPES = ("hash:net", "hash:ip", "hash:ip,port")
_FAMILIES = ("inet", "inet6")


@dataclass(frozen=True, slots=True)
class SetSpec:
    """One set: its `create` line options and its members, spelled as ipset prints them."""

    name: str
    type: str = "hash:net"
    family: str = "inet"
    members: tuple[str, ...] = ()
    hashsize: int = 1024
    maxelem: int = 65536
    timeout: int | None = None
    initval: int | None = None  # None: derived from the name, so it is stable

    def header(self) -> str:
        """The options after the type on the `create` line, in ipset's order."""
        initval = self.initval
        if initval is None:
            initval = int.from_bytes(hashlib.sha256(self.name.encode()).digest()[:4], "big")
        timeout = f" timeout {self.timeout}" if self.timeout is not None else ""
        return (f"family {self.family} hashsize {self.hashsize} maxelem {self.maxelem}"
                f"{timeout} bucketsize 12 initval 0x{initval:08x}")


def render_save(sets: Iterable[SetSpec]) -> str:
    """`ipset save` text for these sets, members in the order given."""
    lines: list[str] = []
    for s in sets:
        lines.append(f"create {s.name} {s.type} {s.header()}")
        lines.extend(f"add {s.name} {member}" for member in s.members)
    return "".join(line + "\n" for line in lines)


def _net_member(rng: random.Random, family: str) -> str:
    """A network as ipset prints it: a host network (/32, /128) without its length."""
    net: ipaddress.IPv4Network | ipaddress.IPv6Network
    if family == "inet":
        length = rng.choice((8, 12, 16, 20, 22, 24, 24, 26, 28, 30, 32, 32, 32))
        net = ipaddress.IPv4Network((rng.getrandbits(32), length), strict=False)
    else:
        length = rng.choice((32, 40, 48, 48, 56, 64, 64, 96, 112, 128, 128))
        prefix = 0x20010DB8 << 96  # 2001:db8::/32, the documentation range
        net = ipaddress.IPv6Network((prefix | rng.getrandbits(96), length), strict=False)
    return str(net.network_address) if length == net.max_prefixlen else str(net)


def _ip_member(rng: random.Random, family: str) -> str:
    if family == "inet":
        return str(ipaddress.IPv4Address((10 << 24) | rng.getrandbits(24)))
    return str(ipaddress.IPv6Address((0x20010DB8 << 96) | rng.getrandbits(96)))


def _ip_port_member(rng: random.Random, family: str) -> str:
    proto = rng.choice(("tcp", "tcp", "tcp", "udp"))
    return f"{_ip_member(rng, family)},{proto}:{rng.randint(1, 65535)}"


_MAKERS: dict[str, Callable[[random.Random, str], str]] = {
    "hash:net": _net_member,
    "hash:ip": _ip_member,
    "hash:ip,port": _ip_port_member,
}


def _fit(n: int) -> int:
    """The smallest power of two >= n, at least 1024 (ipset's default hashsize)."""
    size = 1024
    while size < n:
        size *= 2
    return size


def generate(members: int, type: str = "hash:net", family: str = "inet", seed: int = 0,
             *, name: str | None = None, timeout: int | None = None) -> str:
    """`ipset save` text of one set with `members` distinct random members.

    Deterministic for a seed. IPv4 addresses come from 10.0.0.0/8 (hash:ip, hash:ip,port) or
    anywhere (hash:net); IPv6 ones from 2001:db8::/32.
    """
    if type not in _MAKERS:
        raise ValueError(f"unsupported set type {type!r}; choose one of {', '.join(SET_TYPES)}")
    if family not in _FAMILIES:
        raise ValueError(f"family must be inet or inet6, not {family!r}")
    if members < 0:
        raise ValueError("members must be >= 0")
    rng = random.Random(f"{seed}:{type}:{family}")
    make = _MAKERS[type]
    chosen: dict[str, None] = {}
    while len(chosen) < members:
        chosen.setdefault(make(rng, family))
    spec = SetSpec(
        name=name or f"synth-{type.replace(':', '-').replace(',', '-')}-{family}",
        type=type, family=family, members=tuple(chosen),
        hashsize=_fit(members), maxelem=max(65536, members), timeout=timeout,
    )
    return render_save([spec])
