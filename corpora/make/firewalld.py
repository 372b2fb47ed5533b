"""A firewalld host (Debian's firewalld 1.3.3, iptables backend), made by firewalld's own code.

firewalld is not installed: its packages (firewalld, python3-firewall, python3-nftables) are
fetched with `apt-get download` and unpacked into a temporary tree. A small driver imports
firewalld's core from there, points its configuration paths at a temporary tree (the stock
zones and services as shipped, plus the admin's files below) and its command table at the
legacy binaries, and calls `Firewall().start()`: the same start-up the daemon runs, without
the D-Bus front end. firewalld then builds its tables with iptables-legacy-restore and its
ipset with ipset, inside a namespace made for it. The driver runs under Debian's own
python3 (`/usr/bin/python3`), which needs python3-gi and python3-dbus (firewalld imports
them); libnftables1 must be present (firewalld loads it even with the iptables backend).

Writes corpora/firewalld/: iptables-save.txt and ip6tables-save.txt (tables raw, mangle, nat,
filter, security), iptables-S.txt (`iptables -t TABLE -S` for filter, nat, mangle, raw and
security, one after the other), ipset-save.txt and ipset-list.txt.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from _common import Namespace, save_tables, write

PACKAGES = ("firewalld", "python3-firewall", "python3-nftables")
TABLES = ("raw", "mangle", "nat", "filter", "security")
LISTED = ("filter", "nat", "mangle", "raw", "security")

#: What the admin wrote under /etc/firewalld (as `firewall-cmd --permanent` would have).
CONFIG = {
    "zones/public.xml": """<?xml version="1.0" encoding="utf-8"?>
<zone>
  <short>Public</short>
  <interface name="eth0"/>
  <service name="ssh"/>
  <service name="dhcpv6-client"/>
  <service name="http"/>
  <service name="https"/>
  <port protocol="tcp" port="8080"/>
  <forward-port port="2222" protocol="tcp" to-port="22"/>
  <icmp-block name="timestamp-request"/>
  <rule family="ipv4">
    <source address="192.0.2.0/24"/>
    <service name="postgresql"/>
    <accept/>
  </rule>
  <rule family="ipv4">
    <source address="198.51.100.7"/>
    <reject/>
  </rule>
  <rule>
    <service name="ftp"/>
    <log prefix="ftp " level="info">
      <limit value="1/m"/>
    </log>
    <accept/>
  </rule>
</zone>
""",
    "zones/internal.xml": """<?xml version="1.0" encoding="utf-8"?>
<zone>
  <short>Internal</short>
  <interface name="eth1"/>
  <source address="10.20.0.0/16"/>
  <service name="ssh"/>
  <service name="mdns"/>
  <service name="samba-client"/>
  <service name="dhcpv6-client"/>
</zone>
""",
    "zones/external.xml": """<?xml version="1.0" encoding="utf-8"?>
<zone>
  <short>External</short>
  <interface name="eth2"/>
  <service name="ssh"/>
  <masquerade/>
</zone>
""",
    "zones/drop.xml": """<?xml version="1.0" encoding="utf-8"?>
<zone target="DROP">
  <short>Drop</short>
  <source ipset="blocklist"/>
</zone>
""",
    "ipsets/blocklist.xml": """<?xml version="1.0" encoding="utf-8"?>
<ipset type="hash:net">
  <short>blocklist</short>
  <entry>203.0.113.0/24</entry>
  <entry>198.18.0.0/15</entry>
  <entry>192.0.2.66</entry>
</ipset>
""",
    "policies/int-to-ext.xml": """<?xml version="1.0" encoding="utf-8"?>
<policy target="ACCEPT">
  <short>internal to external</short>
  <ingress-zone name="internal"/>
  <egress-zone name="external"/>
</policy>
""",
    "direct.xml": """<?xml version="1.0" encoding="utf-8"?>
<direct>
  <rule ipv="ipv4" table="filter" chain="INPUT_direct" priority="0"
    >-p tcp --dport 9000 -j DROP</rule>
</direct>
""",
}

DRIVER = """
import sys
root, etc, run = sys.argv[1:4]
sys.path.insert(0, root + "/usr/lib/python3/dist-packages")
from firewall import config
config.set_system_config_paths(etc)
config.set_default_config_paths(root + "/usr/lib/firewalld")
config.FIREWALLD_TEMPDIR = run
config.COMMANDS.update({
    "ipv4": "/usr/sbin/iptables-legacy", "ipv4-restore": "/usr/sbin/iptables-legacy-restore",
    "ipv6": "/usr/sbin/ip6tables-legacy", "ipv6-restore": "/usr/sbin/ip6tables-legacy-restore",
    "eb": "/nonexistent/ebtables", "eb-restore": "/nonexistent/ebtables-restore"})
from firewall.core.fw import Firewall
fw = Firewall()
fw.start()
if fw.get_state() != "RUNNING":
    sys.exit(f"firewalld did not start: {fw.get_state()}")
print("started; default zone", fw.get_default_zone())
"""


def _unpack(work: Path) -> tuple[Path, Path]:
    """The packages' tree and the system configuration tree firewalld reads."""
    subprocess.run(["apt-get", "download", *PACKAGES], cwd=work, check=True,
                   capture_output=True)
    root, etc = work / "root", work / "etc"
    for deb in work.glob("*.deb"):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    etc.mkdir()
    conf = (root / "etc/firewalld/firewalld.conf").read_text()
    for old, new in (("FirewallBackend=nftables", "FirewallBackend=iptables"),
                     ("LogDenied=off", "LogDenied=unicast")):
        assert old in conf, f"firewalld.conf has no {old}"
        conf = conf.replace(old, new)
    (etc / "firewalld.conf").write_text(conf)
    for relative, text in CONFIG.items():
        path = etc / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root, etc


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="iptparse-firewalld-") as tmp:
        work = Path(tmp)
        root, etc = _unpack(work)
        (work / "run").mkdir()
        driver = work / "driver.py"
        driver.write_text(DRIVER)
        python = shutil.which("python3", path="/usr/bin")
        assert python is not None, "Debian's /usr/bin/python3 is needed"
        with Namespace("firewalld-host") as host:
            started = host.run([python, str(driver), str(root), str(etc), str(work / "run")])
            print(started.stdout.strip())
            write("firewalld/iptables-save.txt", save_tables(host, TABLES))
            write("firewalld/ip6tables-save.txt", save_tables(host, TABLES, ipv6=True))
            # what people paste as often: `iptables -S` per table, in the order typed
            write("firewalld/iptables-S.txt", "".join(
                host.run(["iptables-legacy", "-t", table, "-S"]).stdout for table in LISTED))
            write("firewalld/ipset-save.txt", host.run(["ipset", "save"]).stdout)
            write("firewalld/ipset-list.txt", host.run(["ipset", "list"]).stdout)


if __name__ == "__main__":
    main()
