"""The bundled seed scenario the REPL opens when no rules are given.

An AKS node with Calico and kube-proxy (corpora/seed/, shipped in the wheel as
iptparse/data/seed/): a SYN from a default-namespace pod to the ingress controller on 8080 that
Calico's policy drops, and the same SYN from a kube-system pod that it accepts.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..load import load_ruleset
from ..ruleset import Ruleset

__all__ = ["ACCEPTED_PACKET", "DROPPED_PACKET", "load_seed", "seed_dir"]

RULES = "iptables-save.txt"
IPSETS = "ipset-list.txt"
ROUTES = "routes.txt"
ADDRS = "addrs.txt"

#: dropped by "Drop if no policies passed packet" in cali-tw-calid3b581beed8
DROPPED_PACKET = (
    "tcp 10.13.76.26:40000 -> 10.13.76.19:8080 iif=cali17b90f98476 ctstate=NEW mark=0x0")
#: marked 0x10000 by cali-pi-_FSXf14qKl1ZqjRcvUXU and accepted
ACCEPTED_PACKET = (
    "tcp 10.13.76.17:40000 -> 10.13.76.19:8080 iif=calia9c4260d1d8 ctstate=NEW mark=0x0")


def seed_dir() -> Path:
    """Inside the installed package, else the checkout's corpora/seed/."""
    packaged = resources.files("iptparse") / "data" / "seed"
    if (packaged / RULES).is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "corpora" / "seed"


def load_seed() -> Ruleset:
    folder = seed_dir()

    def present(name: str) -> Path | None:
        path = folder / name
        return path if path.is_file() else None

    ipsets = present(IPSETS)
    return load_ruleset([folder / RULES], ipsets=[ipsets] if ipsets else [],
                        routes=present(ROUTES), addrs=present(ADDRS))
