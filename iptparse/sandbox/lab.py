"""The kernel lab: one packet through a ruleset loaded in a throwaway router, read back as counters.

This is the oracle for iptparse's interpreter: a trace must name exactly the rules whose
counters the kernel moved. Two namespaces are made per lab: the router R, where the rules (and
sets) under test are loaded, and the peer P, which holds the far end of every veth pair. R's
side of each pair carries the exact interface name the ruleset expects (`eth0`, `cali+`'s
`calid3b581beed8`, ...). A packet is a hand-built Ethernet frame sent from P through an
AF_PACKET socket, addressed to R's MAC, so any source address arrives without P routing it.

R is kept silent so that counter differences belong to the packet alone: it has no addresses
except the packet's destination on the `in` path, no default route (the replies REJECT, TCP or
ICMP would make find no route and are never sent, so they never reach OUTPUT), no IPv6
link-local addresses, and its interfaces do not act as IPv6 routers (global IPv6 forwarding is
on, per-interface forwarding off: that joins no all-routers group, so no MLD reports go out).
The forward path routes through a fake gateway with a permanent neighbour entry pointing at the
peer's MAC, so forwarded frames leave at once without ARP/ND, whatever NAT did to the
destination. Conntrack is flushed over netlink before each packet so every packet is NEW.

The out path starts in R itself: the packet, without its Ethernet header, is handed to a raw
IP socket of R's (IPPROTO_RAW: the header as built), which the kernel walks through OUTPUT and
POSTROUTING like any packet of a local process (the lab's, so `-m owner` sees its uid and gid),
routed by a host route out of its output interface; the send returns once the hooks are done.

Waiting is bounded and exact: after the packet, a frame of a private ethertype follows on the
same interface from the same CPU; the kernel handles a CPU's received frames in order, so when
R's packet socket sees that barrier, R is done with the packet.
"""

from __future__ import annotations

import errno
import ipaddress
import itertools
import os
import re
import select
import socket
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal

from ..nodes import Family
from ..parser import parse_iptables
from .frames import DecodedFrame, KernelPacket, build_frame, decode_frame, parse_mac
from .netns import Netns, SandboxUnavailable, missing_tools
from .nsthread import call_in_netns, open_proc_net, read_whole
from .observe import CounterReader, Snapshot, local_deliveries, local_requests, tx_packets
from .oracle import KernelRejected

__all__ = ["Backend", "Egress", "KernelResult", "Lab", "LabError", "LabPath"]

LabPath = Literal["in", "forward", "out"]
Backend = Literal["legacy", "nft"]

_ETH_P_ALL = 0x0003
_ETH_P_BARRIER = 0x88B5  # IEEE 802 local experimental ethertype: no kernel handler
_BARRIER_MAGIC = b"iptparse-lab"
_SOL_PACKET, _PACKET_IGNORE_OUTGOING, _PACKET_OUTGOING = 263, 23, 4
_NETLINK_NETFILTER = 12
_CT_FLUSH = (1 << 8) | 2  # NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_DELETE without a tuple
_NLM_F_REQUEST_ACK, _NLMSG_ERROR = 0x01 | 0x04, 2
_GATEWAY = {Family.INET: "169.254.255.254", Family.INET6: "fe80::1"}
_lab_ids = itertools.count()


class LabError(RuntimeError):
    """The lab could not do what was asked: a tool failed or the kernel did not answer."""


@dataclass(frozen=True, slots=True)
class Egress:
    """A frame R sent towards the peer: the R-side interface and the frame as it left."""

    interface: str
    frame: bytes

    @property
    def decoded(self) -> DecodedFrame | None:
        return decode_frame(self.frame)


@dataclass(frozen=True, slots=True)
class KernelResult:
    """What the kernel did with one packet.

    `hits` maps (table, chain, rule number from 1) to the packets each rule counted, `policies`
    (table, builtin chain) to the packets its policy took; only counters that moved appear.
    `local` is true when the packet passed INPUT to R's local delivery (InDelivers, or
    InUnknownProtos for a protocol R has no handler for),
    `egress` lists the frames R sent out; `delivered` is `local` on the `in` path and "some
    frame left R" on the forward and out paths (on whichever interface: NAT may change the
    route).
    `save` is `iptables-save -c` after the packet; its counters add up over the lab's life.
    `answered` is true when R sent a packet of its own meanwhile (an ICMP error, a TCP reset):
    R has no routes for those, so they die unseen by the tables, but NAT can make the source
    one of R's own addresses, and then the reply's own walk (OUTPUT) moves counters too.
    """

    hits: dict[tuple[str, str, int], int]
    policies: dict[tuple[str, str], int]
    delivered: bool
    local: bool
    egress: tuple[Egress, ...]
    save: str = field(repr=False)
    answered: bool = False


@dataclass(slots=True)
class _Link:
    name: str
    peer: str
    router_mac: bytes
    peer_mac: bytes
    capture: socket.socket | None = None


def _check_ifname(name: str) -> str:
    """Names the kernel accepts for a device (dev_valid_name), except the router's own lo."""
    if not 0 < len(name) < 16 or name in (".", "..", "lo") or any(
            c in "/:" or c.isspace() for c in name):
        raise ValueError(f"unusable interface name {name!r}")
    return name


def _ruleset_interfaces(rules: str, family: Family) -> list[str]:
    """Exact (non-wildcard) names the ruleset's -i/-o mention: they must exist to be matched."""
    names: list[str] = []
    dump = parse_iptables(rules, family=family, errors="skip", warnings=[])
    for table in dump.tables:
        for chain in table.chains:
            for rule in chain.rules:
                for iface in (rule.in_interface, rule.out_interface):
                    if iface is not None and not iface.is_wildcard:
                        names.append(iface.name)
    usable = []
    for name in dict.fromkeys(names):
        try:
            usable.append(_check_ifname(name))
        except ValueError:
            continue
    return usable


def _pin(cpu: int) -> bool:
    """Keep this thread on one CPU; where that is refused, sends are still almost always
    handled before sendto returns (the receive softirq runs on the way out of the syscall)."""
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError:
        return False
    return True


def _mld_reports(snmp6: str) -> int:
    return sum(int(line.split()[1]) for line in snmp6.splitlines()
               if line.startswith(("Icmp6OutMLDv2Reports", "Icmp6OutGroupMembResponses")))


def _format_mac(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


class Lab:
    """`with Lab(rules, Family.INET, path="forward", interfaces=["eth0", "eth1"]) as lab:`
    `lab.send(KernelPacket(...))` for each packet; everything is deleted when the block ends.

    `rules` is iptables-restore input (`ipsets`, ipset restore input, is loaded first).
    Interfaces named in `interfaces`, by the ruleset's exact -i/-o names, or by a packet's
    iif/oif/routes are made as needed. `path` says whether packets are to be delivered locally
    (`in`: their destination becomes an address of R) or routed through (`forward`); `send`
    may override it. `addresses` puts (interface, address/prefix) on R for MASQUERADE and the
    like; use host prefixes, since a subnet route would give replies somewhere to go.
    `timeout` bounds every wait for the kernel.
    """

    def __init__(self, rules: str, family: Family = Family.INET, *, path: LabPath,
                 ipsets: str | None = None, interfaces: Iterable[str] = (),
                 backend: Backend = "legacy", addresses: Iterable[tuple[str, str]] = (),
                 timeout: float = 2.0) -> None:
        self.rules, self.family, self.path, self.ipsets = rules, family, path, ipsets
        self.backend, self.timeout = backend, timeout
        self.addresses = tuple((_check_ifname(i), a) for i, a in addresses)
        wanted = [_check_ifname(n) for n in interfaces]
        wanted += _ruleset_interfaces(rules, family) + [i for i, _ in self.addresses]
        self._wanted = list(dict.fromkeys(wanted))
        prefix = "ip6tables" if family is Family.INET6 else "iptables"
        self._restore = f"{prefix}-{backend}-restore"
        self._save = f"{prefix}-{backend}-save"
        self._id = next(_lab_ids)
        self._router: Netns | None = None
        self._peer: Netns | None = None
        self._links: dict[str, _Link] = {}
        self._installed: dict[tuple[str, str], tuple[str, str]] = {}
        self._sender: socket.socket | None = None
        self._local: socket.socket | None = None  # R's raw socket: the out path's packets
        self._barrier: socket.socket | None = None
        self._netlink: socket.socket | None = None
        self._proc: dict[str, int] = {}
        self._snmp = "snmp6" if family is Family.INET6 else "snmp"
        self._last: Snapshot | None = None
        self._counters = CounterReader(family)
        self._sequence = itertools.count(1)

    # ----------------------------------------------------------------- setup and teardown

    def __enter__(self) -> Lab:
        tools = ["ip", self._restore, self._save, *(["ipset"] if self.ipsets else [])]
        missing = missing_tools(tools)
        if missing:
            raise SandboxUnavailable(f"the kernel lab needs {', '.join(missing)}")
        try:
            self._router = Netns(f"iptp-lab{self._id}-r").__enter__()
            self._peer = Netns(f"iptp-lab{self._id}-p").__enter__()
            self._configure()
            self._add_links(self._wanted)
            self._add_addresses()
            if self.ipsets:
                self._load(["ipset", "restore"], self.ipsets)
            self._load([self._restore, "--wait=10"], self.rules)
            self._open_router_sockets()
            self._settle_mld()
            self._last = self._snapshot()[0]
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Delete both namespaces (and with them every veth) and close what is open."""
        for link in self._links.values():
            if link.capture is not None:
                link.capture.close()
        for sock in (self._sender, self._local, self._barrier, self._netlink):
            if sock is not None:
                sock.close()
        for fd in self._proc.values():
            os.close(fd)
        self._links, self._proc = {}, {}
        self._sender = self._local = self._barrier = self._netlink = None
        for ns in (self._router, self._peer):
            if ns is not None:
                ns.close()
        self._router = self._peer = None

    @property
    def router(self) -> Netns:
        if self._router is None:
            raise LabError("the lab is not open")
        return self._router

    @property
    def peer(self) -> Netns:
        if self._peer is None:
            raise LabError("the lab is not open")
        return self._peer

    def _sysctl(self, ns: Netns, values: dict[str, str]) -> None:
        """Write /proc/sys/net entries as `ns` sees them (interface names may contain dots)."""

        def write() -> None:
            for key, value in values.items():
                with open(f"/proc/sys/net/{key}", "w") as f:
                    f.write(value)

        call_in_netns(ns.name, write)

    def _configure(self) -> None:
        v4, v6 = "ipv4/conf", "ipv6/conf"
        router = {"ipv4/ip_forward": "1"}
        for scope in ("all", "default"):
            router |= {f"{v4}/{scope}/rp_filter": "0", f"{v4}/{scope}/accept_local": "1",
                       f"{v4}/{scope}/send_redirects": "0"}
        # global IPv6 forwarding, but new interfaces are not routers: no all-routers MLD joins
        router |= {f"{v6}/all/forwarding": "1", f"{v6}/default/forwarding": "0",
                   f"{v6}/default/addr_gen_mode": "1", f"{v6}/default/accept_dad": "0",
                   f"{v6}/default/accept_ra": "0", f"{v6}/default/router_solicitations": "0",
                   # an IPv6 address on a veth joins its solicited-node group: report it at once
                   f"{v6}/default/mldv1_unsolicited_report_interval": "1",
                   f"{v6}/default/mldv2_unsolicited_report_interval": "1"}
        self._sysctl(self.router, router)
        self._sysctl(self.peer, {f"{v6}/all/disable_ipv6": "1",
                                 f"{v6}/default/disable_ipv6": "1"})
        self._sender = call_in_netns(
            self.peer.name, lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0))

    def _ip(self, ns: Netns, lines: list[str]) -> None:
        if not lines:
            return
        result = ns.run(["ip", "-batch", "-"], input="\n".join(lines) + "\n", check=False)
        if result.returncode != 0:
            raise LabError(f"ip -batch failed in {ns.name}: {result.stderr.strip()}")

    def _add_links(self, names: Iterable[str]) -> None:
        new: list[_Link] = []
        for name in names:
            if name in self._links:
                continue
            index = len(self._links) + 1
            mac = struct.pack("!IH", 0x021AB000, index)
            link = _Link(name, f"p{index}", mac, mac[:3] + b"\x01" + mac[4:])
            self._links[name] = link
            new.append(link)
        if not new:
            return
        peer_ns = self.peer.name
        self._ip(self.router, [
            f"link add {k.name} address {_format_mac(k.router_mac)} type veth peer name "
            f"{k.peer} address {_format_mac(k.peer_mac)} netns {peer_ns}" for k in new])
        per_link: dict[str, str] = {}
        for k in new:
            per_link |= {f"ipv4/conf/{k.name}/rp_filter": "0",
                         f"ipv4/conf/{k.name}/accept_local": "1"}
        self._sysctl(self.router, per_link)
        gateway = _GATEWAY[self.family]
        self._ip(self.router, [f"link set {k.name} up" for k in new] + [
            f"neigh replace {gateway} lladdr {_format_mac(k.peer_mac)} dev {k.name} nud permanent"
            for k in new])
        self._ip(self.peer, [f"link set {k.peer} up" for k in new])
        captures = call_in_netns(peer_ns, lambda: [self._capture_socket(k.peer) for k in new])
        for k, capture in zip(new, captures, strict=True):
            k.capture = capture

    @staticmethod
    def _capture_socket(peer: str) -> socket.socket:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_ALL))
        sock.setsockopt(_SOL_PACKET, _PACKET_IGNORE_OUTGOING, 1)
        sock.bind((peer, _ETH_P_ALL))
        sock.setblocking(False)
        return sock

    def _add_addresses(self) -> None:
        nodad = " nodad" if self.family is Family.INET6 else ""
        self._ip(self.router, [f"address add {a} dev {i}{nodad}" for i, a in self.addresses])

    def _settle_mld(self) -> None:
        """Wait out the MLD reports of IPv6 addresses on veths: they go through OUTPUT.

        Each interface that joined a group reports it twice (the robustness variable), the
        second time within the 1 ms unsolicited interval set above; the reports are sent from a
        delayed work item, so they may follow the rules' load and must be over before the first
        counter reading.
        """
        interfaces = {i for i, _ in self.addresses}
        if self.family is not Family.INET6 or not interfaces:
            return
        deadline = time.monotonic() + self.timeout
        reports, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            now = _mld_reports(read_whole(self._proc[self._snmp]))
            if now != reports:
                reports, since = now, time.monotonic()
            elif reports >= 2 * len(interfaces) and time.monotonic() - since > 0.03:
                return
            time.sleep(0.002)
        raise LabError(f"MLD reports did not settle within {self.timeout}s")

    def reset_ipsets(self) -> None:
        """Put the sets back as they were loaded: a SET target changes them as packets pass,
        and each packet is to meet the sets of the dump."""
        if self.ipsets:
            names = re.findall(r"^create (\S+)", self.ipsets, re.MULTILINE)
            flush = "".join(f"flush {name}\n" for name in names)
            self._load(["ipset", "restore", "-exist"], flush + self.ipsets)

    def _load(self, argv: list[str], text: str) -> None:
        result = self.router.run(argv, input=text, check=False)
        if result.returncode != 0:
            raise KernelRejected(result.stderr.strip())

    def _open_router_sockets(self) -> None:
        domain = socket.AF_INET6 if self.family is Family.INET6 else socket.AF_INET

        def open_sockets() -> tuple[socket.socket, socket.socket, socket.socket]:
            barrier = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                                    socket.htons(_ETH_P_BARRIER))
            barrier.setblocking(False)
            try:
                netlink = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_NETFILTER)
            except OSError as exc:
                barrier.close()
                raise SandboxUnavailable(
                    f"cannot flush conntrack between packets: no nfnetlink socket ({exc}); "
                    "the kernel needs CONFIG_NF_CT_NETLINK") from exc
            netlink.bind((0, 0))
            netlink.settimeout(self.timeout)
            # IPPROTO_RAW: the packet's own IP header is sent (for IPv6 too, since Linux 4.5)
            local = socket.socket(domain, socket.SOCK_RAW, socket.IPPROTO_RAW)
            return barrier, netlink, local

        self._barrier, self._netlink, self._local = call_in_netns(self.router.name,
                                                                  open_sockets)
        routes = ("ipv6_route",) if self.family is Family.INET6 else ()
        self._proc = open_proc_net(self.router.name, (self._snmp, "dev", *routes))

    # ----------------------------------------------------------------- one packet

    def send(self, packet: KernelPacket, *, path: LabPath | None = None) -> KernelResult:
        """Send `packet` into R on `packet.iif` (on the out path: from R's own raw socket)
        and report what every counter did."""
        if packet.family is not self.family:
            raise ValueError(f"a {packet.family.value} packet in a {self.family.value} lab")
        path = path or self.path
        if path != "in" and packet.oif is None and not packet.routes:
            raise ValueError(f"a packet on the {path} path needs an oif or routes")
        self._add_links([*([_check_ifname(packet.iif)] if path != "out" else []), *(
            [_check_ifname(packet.oif)] if packet.oif else []),
            *(_check_ifname(i) for _, i in packet.routes)])
        self._route_for(packet, path)
        self._flush_conntrack()
        self._drain()
        tx_before = tx_packets(read_whole(self._proc["dev"]))
        snmp_before = read_whole(self._proc[self._snmp])
        delivered_before = local_deliveries(snmp_before, self.family)
        sent_before = local_requests(snmp_before, self.family)

        sequence = next(self._sequence)
        own = 0  # R's requests that are the packet itself
        if path == "out":
            frame = build_frame(packet, dst_mac=bytes(6), src_mac=bytes(6), ident=sequence)
            self._send_local(packet, frame[14:])
            # a raw IPv6 send counts as one of R's requests; a raw IPv4 one does not
            own = 1 if self.family is Family.INET6 else 0
        else:
            link = self._links[packet.iif]
            source = parse_mac(packet.src_mac) if packet.src_mac else link.peer_mac
            frame = build_frame(packet, dst_mac=link.router_mac, src_mac=source, ident=sequence)
            self._transmit(link, frame, sequence)

        tx_after = tx_packets(read_whole(self._proc["dev"]))
        snmp_after = read_whole(self._proc[self._snmp])
        local = local_deliveries(snmp_after, self.family) > delivered_before
        answered = local_requests(snmp_after, self.family) > sent_before + own
        egress = self._collect({name: tx_after.get(name, 0) - tx_before.get(name, 0)
                                for name in self._links})
        after, save = self._snapshot()
        assert self._last is not None
        moved = after.since(self._last)
        self._last = after
        return KernelResult(hits=moved.rules, policies=moved.policies,
                            delivered=local if path == "in" else bool(egress), local=local,
                            egress=egress, save=save, answered=answered)

    def _send_local(self, packet: KernelPacket, datagram: bytes) -> None:
        """The out path: R's raw socket sends the IP packet. The kernel runs OUTPUT and
        POSTROUTING within the call, and a packet NAT turns back to R (over lo) is taken in
        by the softirq the send raises on this CPU, before the call returns. A drop in a hook
        is an error of the send, an outcome here and not a failure: EPERM for a rule's,
        ENETUNREACH or EHOSTUNREACH when the destination mangle or nat OUTPUT gave it has no
        route (the lab routed the packet's own destination before sending it), EINVAL when
        a routing rule or route it meets after mangle changed its mark is a blackhole."""
        assert self._local is not None
        address: tuple[str, int] | tuple[str, int, int, int] = (
            (packet.dst, 0, 0, 0) if self.family is Family.INET6 else (packet.dst, 0))
        saved = os.sched_getaffinity(0)
        pinned = _pin(min(saved))
        try:
            self._local.sendto(datagram, address)
        except PermissionError:
            pass  # netfilter dropped it
        except OSError as exc:
            if exc.errno not in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EINVAL):
                raise LabError(f"R could not send the packet: {exc}") from exc
        finally:
            if pinned:
                os.sched_setaffinity(0, saved)

    def _route_for(self, packet: KernelPacket, path: LabPath) -> None:
        """Make R's routing exactly what this packet needs, undoing what the last one needed."""
        bits = self.family.bits
        gateway = _GATEWAY[self.family]
        onlink = " onlink" if self.family is Family.INET else ""
        wanted: dict[tuple[str, str], tuple[str, str]] = {}
        if path == "in":
            address = f"{packet.dst}/{bits}"
            nodad = " nodad" if self.family is Family.INET6 else ""
            wanted["address", address] = (f"address replace {address} dev lo{nodad}",
                                          f"address del {address} dev lo")
        routes = list(packet.routes)
        if path != "in" and packet.oif:
            routes.insert(0, (f"{packet.dst}/{bits}", packet.oif))
        for prefix, iface in routes:
            net = str(ipaddress.ip_network(prefix, strict=False))
            wanted["route", net] = (f"route replace {net} via {gateway} dev {iface}{onlink}",
                                    f"route del {net}")
        stale = [undo for key, (do, undo) in self._installed.items()
                 if wanted.get(key, ("", ""))[0] != do]
        fresh = [do for key, (do, _) in wanted.items()
                 if self._installed.get(key, ("", ""))[0] != do]
        try:
            self._ip(self.router, stale + fresh)
        except LabError:
            # unknown how far the batch got: remove both sets, ignoring what is not there
            undo = [u for _, u in (self._installed | wanted).values()]
            self.router.run(["ip", "-force", "-batch", "-"], input="\n".join(undo) + "\n",
                            check=False)
            self._installed = {}
            raise
        self._installed = wanted
        if path == "in" and self.family is Family.INET6:
            self._await_local_route(packet.dst)

    def _await_local_route(self, address: str) -> None:
        """IPv6 installs an address's local route from a work item, after `ip` returns (even
        with nodad): wait for it, or the packet would be dropped for want of a route."""
        wanted = ipaddress.IPv6Address(address).packed.hex() + " 80 "
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for line in read_whole(self._proc["ipv6_route"]).splitlines():
                # RTF_LOCAL (0x80000000) marks the local-table route of a local address
                if line.startswith(wanted) and int(line.split()[8], 16) & 0x80000000:
                    return
            time.sleep(0.0005)
        raise LabError(f"the local route of {address} did not appear within {self.timeout}s")

    def _flush_conntrack(self) -> None:
        """`conntrack -F` without the tool: one ctnetlink delete request with no tuple."""
        assert self._netlink is not None
        sequence = next(self._sequence)
        header = struct.pack("=IHHII", 20, _CT_FLUSH, _NLM_F_REQUEST_ACK, sequence, 0)
        self._netlink.send(header + struct.pack("=BBH", socket.AF_UNSPEC, 0, 0))
        while True:
            reply = self._netlink.recv(65536)
            _, kind, _, seq, _ = struct.unpack_from("=IHHII", reply)
            if kind == _NLMSG_ERROR and seq == sequence:
                (error,) = struct.unpack_from("=i", reply, 16)
                if error:
                    raise LabError(f"conntrack flush failed: {os.strerror(-error)}")
                return

    def _drain(self) -> None:
        for sock in [self._barrier, *(k.capture for k in self._links.values())]:
            while sock is not None:
                try:
                    sock.recv(65536)
                except BlockingIOError:
                    break

    def _transmit(self, link: _Link, frame: bytes, sequence: int) -> None:
        """Send the frame and a barrier after it, then wait until R has seen the barrier."""
        assert self._sender is not None and self._barrier is not None
        barrier = (link.router_mac + link.peer_mac + struct.pack("!H", _ETH_P_BARRIER)
                   + _BARRIER_MAGIC + struct.pack("!Q", sequence))
        barrier += bytes(max(0, 60 - len(barrier)))
        # both frames must enter the same CPU's backlog for the barrier to come second
        saved = os.sched_getaffinity(0)
        pinned = _pin(min(saved))
        try:
            self._sender.sendto(frame, (link.peer, 0))
            self._sender.sendto(barrier, (link.peer, 0))
        except OSError as exc:
            raise LabError(f"cannot send the frame from {link.peer}: {exc}") from exc
        finally:
            if pinned:
                os.sched_setaffinity(0, saved)
        expected = _BARRIER_MAGIC + struct.pack("!Q", sequence)
        deadline = time.monotonic() + self.timeout
        while (remaining := deadline - time.monotonic()) > 0:
            if not select.select([self._barrier], [], [], remaining)[0]:
                break
            try:
                data = self._barrier.recv(65536)
            except BlockingIOError:
                continue
            if data[14:14 + len(expected)] == expected:
                return
        raise LabError(f"the router did not process the frame within {self.timeout}s")

    def _collect(self, sent: dict[str, int]) -> tuple[Egress, ...]:
        """The frames R transmitted: its tx counters say how many to wait for on each peer."""
        frames: list[Egress] = []
        deadline = time.monotonic() + self.timeout
        for name, count in sent.items():
            capture = self._links[name].capture
            assert capture is not None
            while count > 0 and (remaining := deadline - time.monotonic()) > 0:
                if not select.select([capture], [], [], remaining)[0]:
                    break
                try:
                    data, address = capture.recvfrom(65536)
                except BlockingIOError:
                    continue
                if address[2] != _PACKET_OUTGOING:
                    frames.append(Egress(name, data))
                    count -= 1
            if count > 0:
                raise LabError(f"R sent {count} more frame(s) on {name} than arrived")
        return tuple(frames)

    def _snapshot(self) -> tuple[Snapshot, str]:
        result = self.router.run([self._save, "-c"], check=False)
        if result.returncode != 0:
            raise LabError(f"{self._save} failed: {result.stderr.strip()}")
        return self._counters.read(result.stdout), result.stdout
