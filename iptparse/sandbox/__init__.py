"""Throwaway network namespaces, for checking iptparse against the running kernel.

Everything here runs inside namespaces this process creates and deletes: the host's own rules
and sets are never read or changed. Used by `iptparse verify` and by the kernel tests.
"""

from .netns import Netns, SandboxUnavailable, missing_tools, run_tool

__all__ = ["Netns", "SandboxUnavailable", "missing_tools", "run_tool"]
