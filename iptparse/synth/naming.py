"""The names Calico and kube-proxy derive from hashes, computed the way they compute them.

Real dumps are full of opaque names (`cali-pi-_FSXf14qKl1ZqjRcvUXU`, `KUBE-SVC-XPGD46QRK7WJZT7O`,
`cali:6gwbT8clXdHdC1b1`). Generated dumps must look the same, and the kube-proxy names must be
the very names kube-proxy would pick for the same service, so that a generated dump can be
checked against real output for that service.
"""

from __future__ import annotations

import base64
import hashlib

__all__ = [
    "CHAIN_NAME_MAX",
    "calico_chain_name",
    "calico_iface",
    "calico_rule_hash",
    "calico_set_name",
    "kube_chain_hash",
    "kube_endpoint_chain",
]

#: The longest chain name the kernel accepts (XT_EXTENSION_MAXNAMELEN - 1).
CHAIN_NAME_MAX = 28
#: ipset names are at most 31 characters (IPSET_MAXNAMELEN - 1).
_SET_NAME_MAX = 31


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def calico_rule_hash(chain: str, previous: str, rule: str) -> str:
    """The 16 characters after `cali:` in a rule comment.

    Felix hashes each rule together with its chain and the hash of the rule before it, so the
    same rule text gets a different id at a different place, exactly as on a real node.
    """
    digest = hashlib.sha224(f"{chain}\x00{previous}\x00{rule}".encode()).digest()
    return _b64(digest)[:16]


def calico_chain_name(prefix: str, name: str) -> str:
    """`prefix + name`, or `prefix + '_' + hash` when that would not fit in 28 characters."""
    if len(prefix) + len(name) <= CHAIN_NAME_MAX:
        return prefix + name
    room = CHAIN_NAME_MAX - len(prefix) - 1
    return prefix + "_" + _b64(hashlib.sha256(name.encode()).digest())[:room]


def calico_set_name(kind: str, key: str, *, version: int = 4) -> str:
    """`cali40s:<hash>` (kind "s": selector sets, "n": named ports): 31 characters."""
    prefix = f"cali{version}0{kind}:"
    room = _SET_NAME_MAX - len(prefix)
    return prefix + _b64(hashlib.sha224(key.encode()).digest())[:room]


def calico_iface(namespace: str, pod: str) -> str:
    """The host-side veth name the Calico CNI plugin gives a pod: `cali` + 11 hex digits."""
    return "cali" + hashlib.sha1(f"{namespace}.{pod}".encode()).hexdigest()[:11]


def kube_chain_hash(service_port: str, protocol: str) -> str:
    """The 16 characters after `KUBE-SVC-` (and `KUBE-EXT-`, `KUBE-FW-`, `KUBE-SVL-`).

    `service_port` is kube-proxy's `namespace/name:portname`; `protocol` is lower case.
    """
    digest = hashlib.sha256((service_port + protocol).encode()).digest()
    return base64.b32encode(digest).decode()[:16]


def kube_endpoint_chain(service_port: str, protocol: str, endpoint: str) -> str:
    """The `KUBE-SEP-...` chain of one endpoint (`ip:port`) of a service port."""
    digest = hashlib.sha256((service_port + protocol + endpoint).encode()).digest()
    return "KUBE-SEP-" + base64.b32encode(digest).decode()[:16]
