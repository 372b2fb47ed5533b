"""The chains felix programs: static ones in every table, and the per-node filter chains.

The structure follows felix's rule renderer (static, dispatch, endpoint, policy and profile
chains) with its defaults: mark bits 0xf0000, DROP as the deny action, nat-outgoing with
`--random-fully`, no host endpoints (their dispatch chains exist but stay empty), no IPIP.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._felix import ACCEPT, ALL_MARKS, PASS, SCRATCH0, Felix, mark, set_mark
from .naming import calico_chain_name

if TYPE_CHECKING:
    from .calico import Policy, PolicyRule, Workload

__all__ = ["render_filter", "render_static"]

_ACCEPTED = mark(ACCEPT, ACCEPT)
_HEP_ACCEPTED = ("Host endpoint policy accepted packet.",)


def render_static(f: Felix) -> None:
    """raw, mangle and nat chains plus felix's jumps from the builtin chains of all tables."""
    f.add("raw", "PREROUTING", "-j cali-PREROUTING", insert=True)
    f.add("raw", "OUTPUT", "-j cali-OUTPUT", insert=True)
    f.add("raw", "cali-PREROUTING", set_mark(0, ALL_MARKS))
    f.add("raw", "cali-PREROUTING", set_mark(SCRATCH0, SCRATCH0), pre="-i cali+")
    f.add("raw", "cali-PREROUTING", f"{mark(SCRATCH0, SCRATCH0)} -j cali-rpf-skip")
    f.add("raw", "cali-PREROUTING",
          f"{mark(SCRATCH0, SCRATCH0)} -m rpfilter --validmark --invert -j DROP")
    f.add("raw", "cali-PREROUTING", f"{mark(0, SCRATCH0)} -j cali-from-host-endpoint")
    f.add("raw", "cali-PREROUTING", f"{_ACCEPTED} -j ACCEPT")
    f.add("raw", "cali-OUTPUT", set_mark(0, ALL_MARKS))
    f.add("raw", "cali-OUTPUT", "-j cali-to-host-endpoint")
    f.add("raw", "cali-OUTPUT", f"{_ACCEPTED} -j ACCEPT")
    for chain in ("cali-rpf-skip", "cali-from-host-endpoint", "cali-to-host-endpoint"):
        f.chain("raw", chain)

    f.add("mangle", "PREROUTING", "-j cali-PREROUTING", insert=True)
    f.add("mangle", "POSTROUTING", "-j cali-POSTROUTING", insert=True)
    f.add("mangle", "cali-PREROUTING", "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
    f.add("mangle", "cali-PREROUTING", f"{_ACCEPTED} -j ACCEPT")
    f.add("mangle", "cali-PREROUTING", "-j cali-from-host-endpoint")
    f.add("mangle", "cali-PREROUTING", f"{_ACCEPTED} -j ACCEPT", comments=_HEP_ACCEPTED)
    f.add("mangle", "cali-POSTROUTING", f"{_ACCEPTED} -j RETURN")
    f.add("mangle", "cali-POSTROUTING", set_mark(0, ALL_MARKS))
    f.add("mangle", "cali-POSTROUTING", "-m conntrack --ctstate DNAT -j cali-to-host-endpoint")
    f.add("mangle", "cali-POSTROUTING", f"{_ACCEPTED} -j RETURN", comments=_HEP_ACCEPTED)
    f.chain("mangle", "cali-from-host-endpoint")
    f.chain("mangle", "cali-to-host-endpoint")

    f.add("nat", "PREROUTING", "-j cali-PREROUTING", insert=True)
    f.add("nat", "OUTPUT", "-j cali-OUTPUT", insert=True)
    f.add("nat", "POSTROUTING", "-j cali-POSTROUTING", insert=True)
    f.add("nat", "cali-PREROUTING", "-j cali-fip-dnat")
    f.add("nat", "cali-OUTPUT", "-j cali-fip-dnat")
    f.add("nat", "cali-POSTROUTING", "-j cali-fip-snat")
    f.add("nat", "cali-POSTROUTING", "-j cali-nat-outgoing")
    f.add("nat", "cali-nat-outgoing", "-m set --match-set cali40masq-ipam-pools src -m set ! "
          "--match-set cali40all-ipam-pools dst -j MASQUERADE --random-fully")
    f.chain("nat", "cali-fip-dnat")
    f.chain("nat", "cali-fip-snat")


def _static_filter(f: Felix) -> None:
    f.add("filter", "INPUT", "-j cali-INPUT", insert=True)
    f.add("filter", "FORWARD", "-j cali-FORWARD", insert=True)
    f.add("filter", "OUTPUT", "-j cali-OUTPUT", insert=True)
    f.add("filter", "FORWARD", f"{_ACCEPTED} -j ACCEPT",
          comments=("Policy explicitly accepted packet.",))
    f.add("filter", "FORWARD", set_mark(ACCEPT, ACCEPT))
    f.add("filter", "cali-FORWARD", set_mark(0, ALL_MARKS & ~ACCEPT))
    f.add("filter", "cali-FORWARD", f"{mark(0, ACCEPT)} -j cali-from-hep-forward")
    f.add("filter", "cali-FORWARD", "-j cali-from-wl-dispatch", pre="-i cali+")
    f.add("filter", "cali-FORWARD", "-j cali-to-wl-dispatch", pre="-o cali+")
    f.add("filter", "cali-FORWARD", "-j cali-to-hep-forward")
    f.add("filter", "cali-FORWARD", "-j cali-cidr-block")
    f.add("filter", "cali-INPUT", "-g cali-wl-to-host", pre="-i cali+")
    f.add("filter", "cali-INPUT", f"{_ACCEPTED} -j ACCEPT")
    f.add("filter", "cali-INPUT", set_mark(0, ALL_MARKS))
    f.add("filter", "cali-INPUT", "-j cali-from-host-endpoint")
    f.add("filter", "cali-INPUT", f"{_ACCEPTED} -j ACCEPT", comments=_HEP_ACCEPTED)
    f.add("filter", "cali-OUTPUT", f"{_ACCEPTED} -j ACCEPT")
    f.add("filter", "cali-OUTPUT", "-j RETURN", pre="-o cali+")
    f.add("filter", "cali-OUTPUT", set_mark(0, ALL_MARKS))
    f.add("filter", "cali-OUTPUT", "-m conntrack ! --ctstate DNAT -j cali-to-host-endpoint")
    f.add("filter", "cali-OUTPUT", f"{_ACCEPTED} -j ACCEPT", comments=_HEP_ACCEPTED)
    f.add("filter", "cali-wl-to-host", "-j cali-from-wl-dispatch")
    f.add("filter", "cali-wl-to-host", "-j ACCEPT",
          comments=("Configured DefaultEndpointToHostAction",))
    for chain in ("cali-from-hep-forward", "cali-to-hep-forward", "cali-cidr-block",
                  "cali-from-host-endpoint", "cali-to-host-endpoint"):
        f.chain("filter", chain)


def _common_prefix(first: str, last: str) -> str:
    """The prefix all of a sorted list's names share (that of its first and last names)."""
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]


def _dispatch(f: Felix, root: str, names: Sequence[str], flag: str, target_prefix: str) -> None:
    """felix's shallow dispatch tree: interfaces that share the next character after the
    common prefix get a child chain (`root-<char>`), reached by a `-g` on the wildcard."""
    ordered = sorted(set(names))
    common = _common_prefix(ordered[0], ordered[-1]) if ordered else ""
    groups: dict[str, list[str]] = {}
    for name in ordered:
        groups.setdefault(name[:len(common) + 1], []).append(name)
    unknown = ("Unknown interface",)
    for prefix, members in groups.items():
        if len(members) == 1:
            f.add("filter", root, f"-g {target_prefix}{members[0]}", pre=f"{flag} {members[0]}")
            continue
        child = f"{root}-{prefix[len(common):]}"
        f.add("filter", root, f"-g {child}", pre=f"{flag} {prefix}+")
        for name in members:
            f.add("filter", child, f"-g {target_prefix}{name}", pre=f"{flag} {name}")
        f.add("filter", child, "-j DROP", comments=unknown)
    f.add("filter", root, "-j DROP", comments=unknown)


def _endpoint(f: Felix, w: Workload, policies: Sequence[Policy], ingress: bool) -> None:
    chain = f"cali-{'tw' if ingress else 'fw'}-{w.interface}"
    f.add("filter", chain, "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
    f.add("filter", chain, "-m conntrack --ctstate INVALID -j DROP")
    f.add("filter", chain, set_mark(0, ACCEPT))
    if not ingress:
        f.add("filter", chain, "-m multiport --dports 4789 -j DROP", pre="-p udp",
              comments=("Drop VXLAN encapped packets originating in workloads",))
        f.add("filter", chain, "-j DROP", pre="-p ipencap",
              comments=("Drop IPinIP encapped packets originating in workloads",))
    if policies:
        f.add("filter", chain, set_mark(0, PASS), comments=("Start of policies",))
        for policy in policies:
            f.add("filter", chain, f"{mark(0, PASS)} -j {policy.chain_name}")
            f.add("filter", chain, f"{_ACCEPTED} -j RETURN",
                  comments=("Return if policy accepted",))
        f.add("filter", chain, f"{mark(0, PASS)} -j DROP",
              comments=("Drop if no policies passed packet",))
    prefix = "cali-pri-" if ingress else "cali-pro-"
    for profile in w.profiles:
        f.add("filter", chain, f"-j {calico_chain_name(prefix, profile)}")
        f.add("filter", chain, f"{_ACCEPTED} -j RETURN", comments=("Return if profile accepted",))
    f.add("filter", chain, "-j DROP", comments=("Drop if no profiles matched",))


def _policy_rule(f: Felix, chain: str, rule: PolicyRule, comments: tuple[str, ...]) -> None:
    pre = " ".join(part for part in (
        f"-s {rule.src_net}" if rule.src_net else "",
        f"-d {rule.dst_net}" if rule.dst_net else "",
        f"-p {rule.protocol}" if rule.protocol else "",
    ) if part)
    matches = [f"-m set --match-set {rule.src_set} src" if rule.src_set else "",
               f"-m set --match-set {rule.dst_set} dst" if rule.dst_set else "",
               f"-m multiport --dports {','.join(map(str, rule.ports))}" if rule.ports else ""]
    body = " ".join(m for m in matches if m)
    if rule.action == "deny":
        f.add("filter", chain, f"{body} -j DROP", pre=pre, comments=comments)
        return
    f.add("filter", chain, f"{body} {set_mark(ACCEPT, ACCEPT)}", pre=pre, comments=comments)
    f.add("filter", chain, f"{_ACCEPTED} -j RETURN")


def _policy(f: Felix, policy: Policy) -> None:
    comments = (f"Policy {policy.namespace}/knp.default.{policy.name} {policy.direction}",)
    if not policy.rules:
        f.add("filter", policy.chain_name, comments=comments)
    for i, rule in enumerate(policy.rules):
        _policy_rule(f, policy.chain_name, rule, comments if i == 0 else ())


def _profile(f: Felix, profile: str) -> None:
    for direction, prefix in (("ingress", "cali-pri-"), ("egress", "cali-pro-")):
        chain = calico_chain_name(prefix, profile)
        comments = (f"Profile {profile} {direction}",)
        if profile.startswith("kns."):
            f.add("filter", chain, set_mark(ACCEPT, ACCEPT), comments=comments)
            f.add("filter", chain, f"{_ACCEPTED} -j RETURN")
        else:
            f.add("filter", chain, comments=comments)


def render_filter(f: Felix, workloads: Sequence[Workload], policies: Sequence[Policy]) -> None:
    """The filter table: static chains, dispatch trees, endpoint, policy and profile chains."""
    _static_filter(f)
    names = [w.interface for w in workloads]
    _dispatch(f, "cali-from-wl-dispatch", names, "-i", "cali-fw-")
    _dispatch(f, "cali-to-wl-dispatch", names, "-o", "cali-tw-")
    active: dict[str, Policy] = {}
    for w in sorted(workloads, key=lambda w: w.interface):
        for ingress in (False, True):
            direction = "ingress" if ingress else "egress"
            mine = [p for p in policies if p.direction == direction and p.selects(w)]
            active.update((p.chain_name, p) for p in mine)
            _endpoint(f, w, mine, ingress)
    for chain in sorted(active):
        _policy(f, active[chain])
    for profile in sorted({p for w in workloads for p in w.profiles}):
        _profile(f, profile)
