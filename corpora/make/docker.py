"""Docker hosts (bridge networking), made with the real tools: corpora/docker/ (Docker 27,
iptables-save.txt and ip6tables-save.txt) and corpora/docker/docker28/ (iptables-save.txt).

Docker installs its rules with single iptables commands; the rule set one host ends up with is
written out here, loaded with iptables-legacy-restore / ip6tables-legacy-restore and saved. Two
hosts: Docker 27 (DOCKER, DOCKER-USER, DOCKER-ISOLATION-STAGE-1/2, IPv4 and IPv6) and Docker 28
(DOCKER-FORWARD / DOCKER-CT / DOCKER-BRIDGE and the raw-table direct-routing guard, IPv4). Each
has the default bridge docker0 with an nginx container publishing 8080->80 and a user network
with an API container publishing 127.0.0.1:3000 and a database that publishes nothing.
"""

from __future__ import annotations

from _common import Namespace, write

BR = "br-5c0f1e2d3a4b"


def _forward27(bridges: tuple[str, ...]) -> list[str]:
    rules = ["-A FORWARD -j DOCKER-USER", "-A FORWARD -j DOCKER-ISOLATION-STAGE-1"]
    for br in bridges:
        rules += [f"-A FORWARD -o {br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
                  f"-A FORWARD -o {br} -j DOCKER",
                  f"-A FORWARD -i {br} ! -o {br} -j ACCEPT",
                  f"-A FORWARD -i {br} -o {br} -j ACCEPT"]
    rules += [f"-A DOCKER-ISOLATION-STAGE-1 -i {br} ! -o {br} -j DOCKER-ISOLATION-STAGE-2"
              for br in reversed(bridges)]
    rules.append("-A DOCKER-ISOLATION-STAGE-1 -j RETURN")
    rules += [f"-A DOCKER-ISOLATION-STAGE-2 -o {br} -j DROP" for br in bridges]
    rules += ["-A DOCKER-ISOLATION-STAGE-2 -j RETURN", "-A DOCKER-USER -j RETURN"]
    return rules


def docker27(v6: bool) -> str:
    """Docker 27: bridges are listed newest first in FORWARD, as each one is inserted on top."""
    if v6:
        web, api, net0, net1 = "fd00:d0c:1::2", "fd5c:a1b2:c3d4::2", "fd00:d0c:1::/64", \
            "fd5c:a1b2:c3d4::/64"
        host, web_dst, api_dst = "", f"[{web}]:80", f"[{api}]:3000"
        local, full = "! -d ::1/128", "128"
    else:
        web, api, net0, net1 = "172.17.0.2", "172.18.0.2", "172.17.0.0/16", "172.18.0.0/16"
        host, web_dst, api_dst = "127.0.0.1/32", f"{web}:80", f"{api}:3000"
        local, full = "! -d 127.0.0.0/8", "32"
    filter_rules = [
        *_forward27((BR, "docker0")),
        f"-A DOCKER -d {web}/{full} ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT",
        f"-A DOCKER -d {api}/{full} ! -i {BR} -o {BR} -p tcp -m tcp --dport 3000 -j ACCEPT",
    ]
    nat_rules = [
        "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
        f"-A OUTPUT {local} -m addrtype --dst-type LOCAL -j DOCKER",
        f"-A POSTROUTING -s {net1} ! -o {BR} -j MASQUERADE",
        f"-A POSTROUTING -s {net0} ! -o docker0 -j MASQUERADE",
        f"-A POSTROUTING -s {web}/{full} -d {web}/{full} -p tcp -m tcp --dport 80 -j MASQUERADE",
        f"-A POSTROUTING -s {api}/{full} -d {api}/{full} -p tcp -m tcp --dport 3000 "
        "-j MASQUERADE",
        f"-A DOCKER -i {BR} -j RETURN",
        "-A DOCKER -i docker0 -j RETURN",
        f"-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination {web_dst}",
        # 127.0.0.1:3000 publishes on IPv4 only; the IPv6 host publishes on every address
        f"-A DOCKER {'' if v6 else f'-d {host} '}! -i {BR} -p tcp -m tcp --dport 3000 "
        f"-j DNAT --to-destination {api_dst}",
    ]
    return _tables(nat_rules, filter_rules,
                   ("DOCKER", "DOCKER-ISOLATION-STAGE-1", "DOCKER-ISOLATION-STAGE-2",
                    "DOCKER-USER"))


def docker28() -> str:
    """Docker 28 (IPv4): per-bridge rules moved out of FORWARD into DOCKER-* chains."""
    containers = (("172.17.0.2", "docker0"), ("172.18.0.2", BR), ("172.18.0.3", BR))
    raw = [f"-A PREROUTING -d {ip}/32 ! -i {br} -j DROP" for ip, br in containers]
    bridges = (BR, "docker0")
    filter_rules = [
        "-A FORWARD -j DOCKER-USER",
        "-A FORWARD -j DOCKER-FORWARD",
        "-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT",
        f"-A DOCKER -d 172.18.0.2/32 ! -i {BR} -o {BR} -p tcp -m tcp --dport 3000 -j ACCEPT",
        *(f"-A DOCKER ! -i {br} -o {br} -j DROP" for br in bridges),
        *(f"-A DOCKER-BRIDGE -o {br} -j DOCKER" for br in bridges),
        *(f"-A DOCKER-CT -o {br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
          for br in bridges),
        "-A DOCKER-FORWARD -j DOCKER-CT",
        "-A DOCKER-FORWARD -j DOCKER-ISOLATION-STAGE-1",
        "-A DOCKER-FORWARD -j DOCKER-BRIDGE",
        *(f"-A DOCKER-FORWARD -i {br} -j ACCEPT" for br in bridges),
        *(f"-A DOCKER-ISOLATION-STAGE-1 -i {br} ! -o {br} -j DOCKER-ISOLATION-STAGE-2"
          for br in bridges),
        *(f"-A DOCKER-ISOLATION-STAGE-2 -o {br} -j DROP" for br in reversed(bridges)),
    ]
    nat_rules = [
        "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
        "-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER",
        f"-A POSTROUTING -s 172.18.0.0/16 ! -o {BR} -j MASQUERADE",
        "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE",
        "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination "
        "172.17.0.2:80",
        f"-A DOCKER -d 127.0.0.1/32 ! -i {BR} -p tcp -m tcp --dport 3000 -j DNAT "
        "--to-destination 172.18.0.2:3000",
    ]
    text = _tables(nat_rules, filter_rules,
                   ("DOCKER", "DOCKER-BRIDGE", "DOCKER-CT", "DOCKER-FORWARD",
                    "DOCKER-ISOLATION-STAGE-1", "DOCKER-ISOLATION-STAGE-2", "DOCKER-USER"))
    return "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" + "\n".join(raw) + \
        "\nCOMMIT\n" + text


def _tables(nat_rules: list[str], filter_rules: list[str], filter_chains: tuple[str, ...]) -> str:
    """Restore text: nat first (Docker creates its nat DOCKER chain first), FORWARD DROP."""
    nat = ["*nat", *(f":{c} ACCEPT [0:0]" for c in ("PREROUTING", "INPUT", "OUTPUT",
                                                     "POSTROUTING")),
           ":DOCKER - [0:0]", *nat_rules, "COMMIT"]
    flt = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]",
           *(f":{c} - [0:0]" for c in filter_chains), *filter_rules, "COMMIT"]
    return "\n".join([*nat, *flt]) + "\n"


def main() -> None:
    with Namespace("docker27-host") as host:
        host.run(["iptables-legacy-restore"], input=docker27(v6=False))
        host.run(["ip6tables-legacy-restore"], input=docker27(v6=True))
        write("docker/iptables-save.txt", host.run(["iptables-legacy-save"]).stdout)
        write("docker/ip6tables-save.txt", host.run(["ip6tables-legacy-save"]).stdout)
    with Namespace("docker28-host") as host:
        host.run(["iptables-legacy-restore"], input=docker28())
        write("docker/docker28/iptables-save.txt", host.run(["iptables-legacy-save"]).stdout)


if __name__ == "__main__":
    main()
