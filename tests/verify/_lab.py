"""Helpers shared by the kernel tests of `iptparse verify`."""

from __future__ import annotations

import os
import subprocess

from iptparse.verify.report import VerifyReport, reproduction


def lab_namespaces() -> set[str]:
    """The kernel labs this process has alive (their namespaces carry our pid)."""
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                             check=True).stdout
    return {line.split()[0] for line in listing.splitlines()
            if line.startswith("iptp-lab") and f"-{os.getpid()}-" in line}


def disagreements(report: VerifyReport) -> str:
    """Every disagreement's reproduction, for an assertion message."""
    return "\n\n".join(reproduction(c, report.name) for c in report.comparisons
                       if c.outcome == "disagree")
