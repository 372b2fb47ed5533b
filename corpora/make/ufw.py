"""A ufw-managed host, made by the real ufw (Debian's package) inside a namespace.

ufw is not installed: its .deb is fetched with `apt-get download` and unpacked into a
temporary tree, and ufw runs from there with `--rootdir`/`--datadir` (its own options for
running from another tree), so it reads and writes no file of the host. It runs inside a
namespace and a private mount namespace in which `iptables` is bound to the legacy binaries, so
ufw's own iptables and iptables-restore calls build legacy tables in that namespace only.
Writes corpora/ufw/: iptables-save.txt, ip6tables-save.txt and ufw-status.txt.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from _common import Namespace, write

#: What the admin typed (after installing ufw, before `ufw enable`).
COMMANDS = (
    "default deny incoming",
    "default allow outgoing",
    "allow 22/tcp",
    "limit 2222/tcp comment 'alternate ssh'",
    "allow 80,443/tcp",
    "allow from 10.20.0.0/16 to any port 5432 proto tcp",
    "deny from 203.0.113.0/24",
    "allow in on eth1 to any port 53 proto udp",
    "route allow in on eth1 out on eth0",
    "--force enable",
    "logging low",
)


def _unpack(work: Path) -> tuple[Path, Path]:
    """The package tree (rootdir) and a fresh configuration tree (datadir), as postinst
    would lay them out."""
    subprocess.run(["apt-get", "download", "ufw"], cwd=work, check=True, capture_output=True)
    deb = next(work.glob("ufw_*.deb"))
    root, data = work / "root", work / "data"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    share = root / "usr/share/ufw"
    (root / "etc/ufw").mkdir(parents=True, exist_ok=True)
    shutil.copy(share / "ufw.conf", root / "etc/ufw/ufw.conf")
    for d in ("etc/default", "etc/ufw", "lib/ufw"):
        (data / d).mkdir(parents=True)
    shutil.copy(share / "ufw.conf", data / "etc/ufw/ufw.conf")
    for rules in (share / "iptables").glob("*.rules"):
        shutil.copy(rules, data / "etc/ufw" / rules.name)
    shutil.copy(root / "etc/ufw/sysctl.conf", data / "etc/ufw/sysctl.conf")
    shutil.copytree(root / "etc/ufw/applications.d", data / "etc/ufw/applications.d")
    defaults = (root / "etc/default/ufw").read_text().replace(
        "IPT_SYSCTL=/etc/ufw/sysctl.conf", f"IPT_SYSCTL={data}/etc/ufw/sysctl.conf")
    (data / "etc/default/ufw").write_text(defaults)
    for path in (work, *work.rglob("*")):
        if not path.is_symlink():
            path.chmod(path.stat().st_mode & ~0o022)
    return root, data


def main() -> None:
    base = "/run" if os.access("/run", os.W_OK) else None  # ufw warns about world-writable dirs
    with tempfile.TemporaryDirectory(prefix="iptparse-ufw-", dir=base) as tmp:
        root, data = _unpack(Path(tmp))
        ufw = (f"PYTHONPATH={root}/usr/lib/python3/dist-packages python3 {root}/usr/sbin/ufw "
               f"--rootdir={root} --datadir={data}")
        script = "\n".join([
            "set -e",
            "mount --bind /usr/sbin/xtables-legacy-multi \"$(readlink -f /usr/sbin/iptables)\"",
            *(f"{ufw} {command} >/dev/null" for command in COMMANDS),
            f"{ufw} status verbose",
        ])
        with Namespace("ufw-host") as host:
            status = host.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script])
            write("ufw/ufw-status.txt", status.stdout)
            write("ufw/iptables-save.txt", host.run(["iptables-legacy-save"]).stdout)
            write("ufw/ip6tables-save.txt", host.run(["ip6tables-legacy-save"]).stdout)


if __name__ == "__main__":
    main()
