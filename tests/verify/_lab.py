"""Helpers shared by the kernel tests of `iptparse verify`."""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace
from typing import Any

import pytest

from iptparse.extensions.tcpudp import PortMatch, Tcp, TcpMatch, Udp
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


def invert_tcp_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inject a wrong model: tcp's --dport read inverted (verify must catch it)."""
    _invert_dport(monkeypatch, Tcp)


def invert_udp_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inject a wrong model: udp's --dport read inverted."""
    _invert_dport(monkeypatch, Udp)


def _invert_dport(monkeypatch: pytest.MonkeyPatch, extension: type[Tcp | Udp]) -> None:
    right = extension.predicate

    def inverted(self: Any, options: Any, ctx: Any) -> Any:
        assert isinstance(options, TcpMatch | PortMatch)
        return right(self, replace(options, dport_invert=not options.dport_invert), ctx)

    monkeypatch.setattr(extension, "predicate", inverted)
