"""fail2ban hosts (1.0.2, Debian's action files), made by running the actions' commands.

fail2ban bans by running the shell commands of its action files; those commands are run here,
word for word as action.d/iptables.conf, iptables-multiport.conf and iptables-ipset*.conf expand
them (`iptables = iptables -w`, chain INPUT, port ssh, protocol tcp, REJECT with
icmp-port-unreachable / icmp6-port-unreachable), with the legacy binaries, inside a namespace
that already has a small host firewall. Writes two hosts under corpora/fail2ban/:
- multiport/iptables-save.txt: jails sshd and nginx-http-auth with action iptables-multiport
  (chains f2b-sshd and f2b-nginx-http-auth, one REJECT rule per banned address);
- ipset/: iptables-save.txt, ip6tables-save.txt, ipset-save.txt, ipset-list.txt: jail sshd
  with `banaction = iptables-ipset-proto6[ipsettime='<timeout-bantime>']` and bantime 10m, so
  the sets f2b-sshd and f2b-sshd6 are hash:ip with timeout support and every ban times out
  after 600 s (the saved timeouts are what was left when saved).
"""

from __future__ import annotations

from _common import Namespace, write

HOST_FIREWALL = """*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A INPUT -p tcp -m multiport --dports 80,443 -j ACCEPT
-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT
COMMIT
"""

SSH_BANS = ("198.51.100.23", "203.0.113.77", "192.0.2.145")
NGINX_BANS = ("203.0.113.9",)
SSH_BANS6 = ("2001:db8:4f2::17", "2001:db8:77:1::beef")


def _multiport_start(jail: str, port: str) -> list[str]:
    """actionstart of iptables-multiport (the chain, its RETURN, the jump from INPUT)."""
    ipt = "iptables-legacy -w"
    return [
        f"{{ {ipt} -C f2b-{jail} -j RETURN >/dev/null 2>&1; }} || "
        f"{{ {ipt} -N f2b-{jail} || true; {ipt} -A f2b-{jail} -j RETURN; }}",
        "for proto in $(echo 'tcp' | sed 's/,/ /g'); do",
        f"{{ {ipt} -C INPUT -p $proto -m multiport --dports {port} -j f2b-{jail} "
        f">/dev/null 2>&1; }} || {{ {ipt} -I INPUT -p $proto -m multiport --dports {port} "
        f"-j f2b-{jail}; }}",
        "done",
    ]


def _multiport_ban(jail: str, ip: str) -> str:
    return (f"iptables-legacy -w -I f2b-{jail} 1 -s {ip} -j REJECT "
            "--reject-with icmp-port-unreachable")


def _ipset_start(v6: bool) -> list[str]:
    """actionstart of iptables-ipset-proto6 for jail sshd (IPv4 or IPv6 family)."""
    ipt = "ip6tables-legacy -w" if v6 else "iptables-legacy -w"
    name, family = ("f2b-sshd6", " family inet6") if v6 else ("f2b-sshd", "")
    reject = "icmp6-port-unreachable" if v6 else "icmp-port-unreachable"
    rule = (f"-p $proto -m multiport --dports ssh -m set --match-set {name} src -j REJECT "
            f"--reject-with {reject}")
    return [
        f"ipset -exist create {name} hash:ip timeout 0{family}",
        "for proto in $(echo 'tcp' | sed 's/,/ /g'); do",
        f"{{ {ipt} -C INPUT {rule} >/dev/null 2>&1; }} || {{ {ipt} -I INPUT {rule}; }}",
        "done",
    ]


def main() -> None:
    with Namespace("f2b-multiport") as host:
        host.run(["iptables-legacy-restore"], input=HOST_FIREWALL)
        script = [*_multiport_start("sshd", "ssh"),
                  *_multiport_start("nginx-http-auth", "http,https"),
                  *(_multiport_ban("sshd", ip) for ip in SSH_BANS),
                  *(_multiport_ban("nginx-http-auth", ip) for ip in NGINX_BANS)]
        host.run(["sh", "-ec", "\n".join(script)])
        write("fail2ban/multiport/iptables-save.txt", host.run(["iptables-legacy-save"]).stdout)
    with Namespace("f2b-ipset") as host:
        host.run(["iptables-legacy-restore"], input=HOST_FIREWALL)
        host.run(["ip6tables-legacy-restore"], input=HOST_FIREWALL.replace(
            "-p icmp -m icmp --icmp-type 8", "-p ipv6-icmp -m icmp6 --icmpv6-type 128"))
        script = [*_ipset_start(False), *_ipset_start(True),
                  *(f"ipset -exist add f2b-sshd {ip} timeout 600" for ip in SSH_BANS),
                  *(f"ipset -exist add f2b-sshd6 {ip} timeout 600" for ip in SSH_BANS6)]
        host.run(["sh", "-ec", "\n".join(script)])
        write("fail2ban/ipset/iptables-save.txt", host.run(["iptables-legacy-save"]).stdout)
        write("fail2ban/ipset/ip6tables-save.txt", host.run(["ip6tables-legacy-save"]).stdout)
        write("fail2ban/ipset/ipset-save.txt", host.run(["ipset", "save"]).stdout)
        write("fail2ban/ipset/ipset-list.txt", host.run(["ipset", "list"]).stdout)


if __name__ == "__main__":
    main()
