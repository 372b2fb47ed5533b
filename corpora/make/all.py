"""Regenerate every corpus under corpora/ (run as root from the repository root)."""

from __future__ import annotations

import runpy
from pathlib import Path

SCRIPTS = ("seed", "kube_proxy", "docker", "ufw", "firewalld", "fail2ban", "calico")

if __name__ == "__main__":
    for name in SCRIPTS:
        runpy.run_path(str(Path(__file__).with_name(f"{name}.py")), run_name="__main__")
