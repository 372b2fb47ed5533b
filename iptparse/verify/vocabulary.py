"""The words of generated rules: values from a small universe, and one writer per module.

`Words` draws addresses, prefixes, ports and mark/mask pairs from a universe small enough that
rules overlap, and writes each match's and target's options as iptables-restore reads them;
MATCHES and TARGETS list the writers by module name (with, for targets, the tables and hooks
the kernel allows). `generate` decides which of them a ruleset uses.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from ..nodes import Family

__all__ = ["HOOKS", "IFACES", "MATCHES", "NO_IN", "NO_OUT", "SCTP", "STATEFUL_MATCHES", "TARGETS",
           "TCP", "UDP", "ChainPlan", "RuleCtx", "Words"]

HOOKS: dict[str, tuple[str, ...]] = {
    "raw": ("PREROUTING", "OUTPUT"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
}
#: Matches whose outcome depends on earlier packets (excluded by `stateless`).
STATEFUL_MATCHES = frozenset({"limit", "statistic", "recent", "quota", "hashlimit",
                              "connlimit", "connbytes"})
NO_IN = ("OUTPUT", "POSTROUTING")
NO_OUT = ("PREROUTING", "INPUT")
_PORTS = (22, 53, 80, 443, 1000, 1023, 1024, 2000, 8080, 8443, 65535)
_MASKS = (0xFF, 0xF0, 0x1, 0x2, 0x10000, 0xFFFF0000, 0xFFFFFFFF)
IFACES = ("eth0", "eth1", "eth2", "veth0", "eth+", "veth+", "cali+")
TCP, UDP, SCTP = 6, 17, 132


@dataclass
class ChainPlan:
    """A chain being generated: its table, the one hook that reaches it, its rules' text."""

    table: str
    name: str
    hook: str
    builtin: bool
    rules: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RuleCtx:
    """What a match or target writer needs to know of the rule it writes for."""

    table: str
    chain: ChainPlan
    proto: int | None  # None: no -p, or a negated one
    later: tuple[ChainPlan, ...]  # chains this rule may jump or go to


class Words:
    """Values and module options, drawn with one random generator."""

    def __init__(self, rng: random.Random, family: Family, *, stateless: bool,
                 tables: tuple[str, ...]) -> None:
        self.rng = rng
        self.family = family
        self.stateless = stateless
        self.tables = tables
        self.v4 = family is Family.INET
        self.sets: list[tuple[str, str, tuple[str, ...]]] = []  # name, type, dims
        self.set_text: list[str] = []

    # --- values -------------------------------------------------------------------------------

    def address(self) -> str:
        r = self.rng
        if self.v4:
            return f"10.0.{r.randrange(4)}.{r.randrange(1, 255)}"
        return f"fd00::{r.randrange(4):x}:{r.randrange(1, 0xFFFF):x}"

    def prefix(self) -> str:
        r = self.rng
        lengths = (8, 16, 24, 28, 30, 32) if self.v4 else (16, 64, 112, 120, 126, 128)
        length = r.choice(lengths)
        net = ipaddress.ip_network(f"{self.address()}/{length}", strict=False)
        return str(net)

    def port(self) -> str:
        r = self.rng
        if r.random() < 0.3:
            lo = r.choice(_PORTS[:-1])
            return f"{lo}:{min(65535, lo + r.choice((1, 10, 1000)))}"
        return str(r.choice(_PORTS) if r.random() < 0.8 else r.randrange(1, 65536))

    def bits(self) -> str:
        r = self.rng
        mask = r.choice(_MASKS)
        value = r.getrandbits(32) & mask if r.random() < 0.7 else 0
        return f"{value:#x}/{mask:#x}"

    def neg(self, p: float = 0.25) -> str:
        return "! " if self.rng.random() < p else ""

    # --- sets ---------------------------------------------------------------------------------

    def make_sets(self) -> None:
        family = "inet" if self.v4 else "inet6"
        kinds = [("hash:ip", ("src",)), ("hash:net", ("src",)), ("hash:ip,port", ("dst", "dst")),
                 ("bitmap:port", ("dst",))]
        for index, (kind, dims) in enumerate(kinds):
            name = f"gen{index}-{kind.replace(':', '-').replace(',', '-')}"
            header = "range 0-65535" if kind == "bitmap:port" else f"family {family}"
            self.set_text.append(f"create {name} {kind} {header}\n")
            members: set[str] = set()
            for _ in range(self.rng.randrange(2, 7)):
                if kind == "hash:ip":
                    members.add(self.address())
                elif kind == "hash:net":
                    members.add(self.prefix())
                elif kind == "hash:ip,port":
                    proto = self.rng.choice(("tcp", "udp"))
                    members.add(f"{self.address()},{proto}:{self.rng.choice(_PORTS)}")
                else:
                    members.add(str(self.rng.choice(_PORTS)))
            if kind == "hash:net" and self.rng.random() < 0.6:
                # a hole in a member: packets there do not match (or do, --return-nomatch)
                wide = ipaddress.ip_network(self.rng.choice(sorted(members)))
                if wide.prefixlen + 2 <= wide.max_prefixlen:
                    hole = self.rng.choice(list(wide.subnets(prefixlen_diff=2)))
                    if str(hole) not in members:  # ipset refuses an element added twice
                        members.add(f"{hole} nomatch")
            self.set_text.extend(f"add {name} {m}\n" for m in sorted(members))
            self.sets.append((name, kind, dims))

    # --- matches ------------------------------------------------------------------------------

    def m_tcp(self, c: RuleCtx) -> str | None:
        if c.proto != TCP:
            return None
        parts = []
        for option in ("sport", "dport"):
            if self.rng.random() < 0.5:
                parts.append(f"{self.neg()}--{option} {self.port()}")
        if self.rng.random() < 0.3:
            flags = ("SYN", "ACK", "FIN", "RST", "PSH", "URG")
            mask = self.rng.sample(flags, self.rng.randrange(1, 4))
            comp = [f for f in mask if self.rng.random() < 0.5] or ["NONE"]
            parts.append(f"{self.neg()}--tcp-flags {','.join(mask)} {','.join(comp)}")
        elif self.rng.random() < 0.15:
            parts.append(f"{self.neg()}--syn")
        return "-m tcp " + " ".join(parts) if parts else "-m tcp"

    def m_udp(self, c: RuleCtx) -> str | None:
        if c.proto != UDP:
            return None
        option = self.rng.choice(("sport", "dport"))
        return f"-m udp {self.neg()}--{option} {self.port()}"

    def m_multiport(self, c: RuleCtx) -> str | None:
        if c.proto not in (TCP, UDP, SCTP):
            return None
        ports = ",".join(self.port() for _ in range(self.rng.randrange(1, 5)))
        which = self.rng.choice(("dports", "sports", "ports"))
        return f"-m multiport {self.neg()}--{which} {ports}"

    def m_icmp(self, c: RuleCtx) -> str | None:
        if self.v4 and c.proto == 1:
            kind = self.rng.choice(("8", "0", "3", "3/1", "11", "any", "echo-request"))
            return f"-m icmp {self.neg()}--icmp-type {kind}"
        if not self.v4 and c.proto == 58:
            kind = self.rng.choice(("128", "129", "1", "1/4", "3"))
            return f"-m icmp6 {self.neg()}--icmpv6-type {kind}"
        return None

    def m_mark(self, c: RuleCtx) -> str:
        return f"-m mark {self.neg()}--mark {self.bits()}"

    def m_connmark(self, c: RuleCtx) -> str:
        return f"-m connmark {self.neg()}--mark {self.bits()}"

    def m_comment(self, c: RuleCtx) -> str:
        return f'-m comment --comment "gen {self.rng.randrange(1000)}"'

    def m_conntrack(self, c: RuleCtx) -> str:
        states = self.rng.sample(("NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED"),
                                 self.rng.randrange(1, 3))
        return f"-m conntrack {self.neg()}--ctstate {','.join(states)}"

    def m_state(self, c: RuleCtx) -> str:
        states = self.rng.sample(("NEW", "ESTABLISHED", "RELATED", "INVALID"),
                                 self.rng.randrange(1, 3))
        return f"-m state {self.neg()}--state {','.join(states)}"

    def m_set(self, c: RuleCtx) -> str | None:
        if not self.sets:
            return None
        name, kind, dims = self.rng.choice(self.sets)
        if kind == "bitmap:port" and c.proto not in (TCP, UDP):
            return None
        if kind == "hash:ip,port" and c.proto not in (TCP, UDP):
            return None
        if kind in ("hash:ip", "hash:net"):
            dims = (self.rng.choice(("src", "dst")),)
        flags = " --return-nomatch" if kind == "hash:net" and self.rng.random() < 0.3 else ""
        return f"-m set {self.neg()}--match-set {name} {','.join(dims)}{flags}"

    def m_length(self, c: RuleCtx) -> str:
        lo = self.rng.choice((20, 28, 40, 48, 60, 100, 200))
        if self.rng.random() < 0.5:
            return f"-m length {self.neg()}--length {lo}"
        return f"-m length {self.neg()}--length {lo}:{lo + self.rng.choice((8, 100, 1000))}"

    def m_ttl(self, c: RuleCtx) -> str | None:
        if not self.v4:
            return None
        op = self.rng.choice(("eq", "lt", "gt"))
        return f"-m ttl --ttl-{op} {self.rng.choice((1, 2, 63, 64, 65, 128, 254))}"

    def m_hl(self, c: RuleCtx) -> str | None:
        if self.v4:
            return None
        op = self.rng.choice(("eq", "lt", "gt"))
        return f"-m hl --hl-{op} {self.rng.choice((1, 2, 63, 64, 65, 128, 254))}"

    def m_tos(self, c: RuleCtx) -> str:
        return f"-m tos {self.neg()}--tos {self.rng.choice((0, 0x10, 0x08, 0x04, 0x02)):#x}" + (
            f"/{self.rng.choice((0xFF, 0x3F, 0x1E)):#x}" if self.rng.random() < 0.5 else "")

    def m_dscp(self, c: RuleCtx) -> str:
        return f"-m dscp {self.neg()}--dscp {self.rng.choice((0, 8, 10, 46, 63)):#x}"

    def m_addrtype(self, c: RuleCtx) -> str:
        side = self.rng.choice(("src", "dst"))
        kinds = ("LOCAL", "UNICAST", "BROADCAST", "MULTICAST") if self.v4 else (
            "LOCAL", "UNICAST", "MULTICAST")
        kind = self.rng.choice(kinds)
        return f"-m addrtype {self.neg(0.3)}--{side}-type {kind}"

    def m_iprange(self, c: RuleCtx) -> str:
        a, b = sorted((self.address(), self.address()), key=ipaddress.ip_address)
        side = self.rng.choice(("src", "dst"))
        return f"-m iprange {self.neg()}--{side}-range {a}-{b}"

    def m_limit(self, c: RuleCtx) -> str:
        rate = self.rng.choice(("1/sec", "10/min", "100/sec", "1/hour"))
        return f"-m limit --limit {rate} --limit-burst {self.rng.choice((1, 2, 5))}"

    def m_statistic(self, c: RuleCtx) -> str:
        p = self.rng.choice(("0.25000000000", "0.50000000000", "0.90000000000"))
        return f"-m statistic --mode random {self.neg(0.2)}--probability {p}"

    def m_ecn(self, c: RuleCtx) -> str:
        options = ["ecn-ip-ect"] + (["ecn-tcp-cwr", "ecn-tcp-ece"] if c.proto == TCP else [])
        option = self.rng.choice(options)
        value = f" {self.rng.randrange(4)}" if option == "ecn-ip-ect" else ""
        return f"-m ecn {self.neg()}--{option}{value}"

    def m_mac(self, c: RuleCtx) -> str | None:
        if c.chain.hook not in ("PREROUTING", "INPUT", "FORWARD"):
            return None  # the kernel refuses the match elsewhere
        mac = "02:1a:b0:ff:00:01" if self.rng.random() < 0.5 else "02:1a:b0:ff:00:02"
        return f"-m mac {self.neg()}--mac-source {mac.upper()}"

    def m_owner(self, c: RuleCtx) -> str | None:
        if c.chain.hook not in ("OUTPUT", "POSTROUTING"):
            return None  # the kernel refuses the match elsewhere
        # the lab's packets of its own come from its process (root); R's answers from the
        # kernel's sockets
        ids = self.rng.choice(("0", "0-10", "1000", "1-65534", "65534"))
        kind = self.rng.choice(("--uid-owner", "--gid-owner", "--socket-exists"))
        return f"-m owner {self.neg(0.3)}{kind}{'' if kind == '--socket-exists' else ' ' + ids}"

    def m_recent(self, c: RuleCtx) -> str:
        name = f"r{self.rng.randrange(3)}"
        side = self.rng.choice(("--rsource", "--rdest"))
        mask = "255.255.255.255" if self.v4 else "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
        kind = self.rng.choice(("--set", "--rcheck", "--update", "--remove"))
        extra = ""
        if kind in ("--rcheck", "--update") and self.rng.random() < 0.5:
            extra = f" --seconds {self.rng.choice((10, 60, 3600))}"
            if self.rng.random() < 0.5:
                extra += f" --hitcount {self.rng.choice((1, 2, 3))}"
        bang = self.neg() if kind != "--set" else ""
        return f"-m recent {bang}{kind}{extra} --name {name} --mask {mask} {side}"

    def m_quota(self, c: RuleCtx) -> str:
        return f"-m quota {self.neg()}--quota {self.rng.choice((0, 60, 200, 1000, 100000))}"

    def m_hashlimit(self, c: RuleCtx) -> str:
        way = self.rng.choice(("upto", "above"))
        rate = self.rng.choice(("1/sec", "5/min", "1/hour"))
        mode = self.rng.choice(("srcip", "dstip", "srcip,dstip"))
        return (f"-m hashlimit --hashlimit-{way} {rate} --hashlimit-burst "
                f"{self.rng.choice((1, 2, 5))} --hashlimit-mode {mode} --hashlimit-name "
                f"h{self.rng.randrange(3)}")

    # --- targets ------------------------------------------------------------------------------

    def t_mark(self, c: RuleCtx) -> str:
        kind = self.rng.choice(("--set-xmark", "--set-mark", "--or-mark", "--and-mark",
                                "--xor-mark"))
        if kind in ("--set-xmark", "--set-mark"):
            return f"-j MARK {kind} {self.bits()}"
        return f"-j MARK {kind} {self.rng.choice(_MASKS):#x}"

    def t_connmark(self, c: RuleCtx) -> str:
        kind = self.rng.choice(("set", "save", "restore"))
        if kind == "set":
            return f"-j CONNMARK --set-xmark {self.bits()}"
        masks = f"--nfmask {self.rng.choice(_MASKS):#x} --ctmask {self.rng.choice(_MASKS):#x}"
        return f"-j CONNMARK --{kind}-mark {masks if self.rng.random() < 0.6 else ''}".strip()

    def t_reject(self, c: RuleCtx) -> str:
        if c.proto == TCP and self.rng.random() < 0.4:
            return "-j REJECT --reject-with tcp-reset"
        return "-j REJECT" if self.v4 else "-j REJECT --reject-with icmp6-port-unreachable"

    def t_dnat(self, c: RuleCtx) -> str:
        address = self.address()
        if c.proto in (TCP, UDP) and self.rng.random() < 0.5:
            address = f"{address}:{self.rng.choice(_PORTS)}" if self.v4 else (
                f"[{address}]:{self.rng.choice(_PORTS)}")
        return f"-j DNAT --to-destination {address}"

    def t_snat(self, c: RuleCtx) -> str:
        return f"-j SNAT --to-source {self.address()}"

    def t_masquerade(self, c: RuleCtx) -> str:
        return "-j MASQUERADE"

    def t_redirect(self, c: RuleCtx) -> str:
        if c.proto in (TCP, UDP):
            return f"-j REDIRECT --to-ports {self.rng.choice(_PORTS)}"
        return "-j REDIRECT"

    def t_notrack(self, c: RuleCtx) -> str:
        return "-j CT --notrack"

    def t_ttl(self, c: RuleCtx) -> str:
        name, option = ("TTL", "ttl") if self.v4 else ("HL", "hl")
        how = self.rng.choice(("set", "dec", "inc"))
        value = self.rng.choice((1, 2, 64, 255)) if how == "set" else self.rng.randrange(1, 4)
        return f"-j {name} --{option}-{how} {value}"

    def t_dscp(self, c: RuleCtx) -> str:
        if self.rng.random() < 0.3:
            return f"-j DSCP --set-dscp-class {self.rng.choice(('EF', 'AF11', 'CS1', 'BE'))}"
        return f"-j DSCP --set-dscp {self.rng.choice((0, 8, 10, 46, 63)):#x}"

    def t_tos(self, c: RuleCtx) -> str:
        how = self.rng.choice(("set", "and", "or", "xor"))
        bits = self.rng.choice((0x00, 0x02, 0x03, 0x10, 0x1E, 0xFC, 0xFF))
        if how == "set":
            mask = self.rng.choice((0xFF, 0x3F, 0x03, 0xFC))
            return f"-j TOS --set-tos {bits:#04x}/{mask:#04x}"
        return f"-j TOS --{how}-tos {bits:#04x}"

    def t_netmap(self, c: RuleCtx) -> str:
        return f"-j NETMAP --to {self.prefix()}"

    def t_log(self, c: RuleCtx) -> str:
        return f'-j LOG --log-prefix "gen{self.rng.randrange(100)} "' if self.rng.random() < 0.5 \
            else "-j LOG"

    def t_ecn(self, c: RuleCtx) -> str | None:
        return "-j ECN --ecn-tcp-remove" if c.proto == TCP else None

    def t_set(self, c: RuleCtx) -> str | None:
        """SET --add-set / --del-set into a generated set: later `-m set` rules of the same
        walk see the change (the lab puts the sets back before each packet)."""
        if not self.sets or self.stateless:
            return None  # (a key the walk does not know exactly makes an assumption)
        name, _, dims = self.rng.choice(self.sets)
        flags = ",".join(self.rng.choice(("src", "dst")) for _ in dims)
        if self.rng.random() < 0.3:
            return f"-j SET --del-set {name} {flags}"
        exist = " --exist" if self.rng.random() < 0.3 else ""
        return f"-j SET --add-set {name} {flags}{exist}"


MatchGen = Callable[[Words, RuleCtx], "str | None"]
MATCHES: dict[str, MatchGen] = {
    "tcp": Words.m_tcp, "udp": Words.m_udp, "multiport": Words.m_multiport, "icmp": Words.m_icmp,
    "icmp6": Words.m_icmp, "mark": Words.m_mark, "connmark": Words.m_connmark,
    "comment": Words.m_comment, "conntrack": Words.m_conntrack, "state": Words.m_state,
    "set": Words.m_set, "length": Words.m_length, "ttl": Words.m_ttl, "hl": Words.m_hl,
    "tos": Words.m_tos, "dscp": Words.m_dscp, "addrtype": Words.m_addrtype,
    "iprange": Words.m_iprange, "limit": Words.m_limit, "statistic": Words.m_statistic,
    "ecn": Words.m_ecn, "mac": Words.m_mac, "recent": Words.m_recent, "quota": Words.m_quota,
    "hashlimit": Words.m_hashlimit, "owner": Words.m_owner,
}
TargetGen = Callable[[Words, RuleCtx], "str | None"]  # None: not for this rule
#: Target writers by extension name, with the tables and hooks (None: any) it may sit in.
TARGETS: dict[str, tuple[TargetGen, tuple[str, ...], tuple[str, ...] | None]] = {
    "MARK": (Words.t_mark, ("mangle", "raw"), None),
    "CONNMARK": (Words.t_connmark, ("mangle",), None),
    "REJECT": (Words.t_reject, ("filter",), ("INPUT", "FORWARD", "OUTPUT")),
    "DNAT": (Words.t_dnat, ("nat",), ("PREROUTING", "OUTPUT")),
    "SNAT": (Words.t_snat, ("nat",), ("POSTROUTING", "INPUT")),
    "MASQUERADE": (Words.t_masquerade, ("nat",), ("POSTROUTING",)),
    "REDIRECT": (Words.t_redirect, ("nat",), ("PREROUTING", "OUTPUT")),
    "CT": (Words.t_notrack, ("raw",), None),
    "TTL": (Words.t_ttl, ("mangle",), None), "HL": (Words.t_ttl, ("mangle",), None),
    "DSCP": (Words.t_dscp, ("mangle",), None), "TOS": (Words.t_tos, ("mangle",), None),
    "ECN": (Words.t_ecn, ("mangle",), None),
    "NETMAP": (Words.t_netmap, ("nat",), None), "LOG": (Words.t_log, ("filter", "mangle"), None),
    "SET": (Words.t_set, ("filter", "mangle"), None),
}
