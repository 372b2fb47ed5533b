"""The real program in a real terminal (tmux): prompt, colours, Tab completion, history,
Ctrl-C and Ctrl-D."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ._drive import RULES

ROOT = Path(__file__).resolve().parents[2]
WAIT = 30.0
PACKET = "tcp 10.1.2.3:4000 -> 10.9.9.9:8080 iif=eth0 oif=podd1 ctstate=NEW"

pytestmark = pytest.mark.slow


def tmux(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=20,
                          check=False)


class Pane:
    def __init__(self, name: str) -> None:
        self.name = name

    def send(self, *keys: str) -> None:
        tmux("send-keys", "-t", self.name, *keys)

    def screen(self, escapes: bool = False) -> str:
        return tmux("capture-pane", "-p", *(["-e"] if escapes else []), "-t", self.name).stdout

    def wait_for(self, text: str) -> str:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; screen:\n{self.screen()}")


@pytest.fixture
def pane(tmp_path: Path) -> Iterator[Pane]:
    if shutil.which("tmux") is None:
        if os.environ.get("IPTPARSE_REQUIRE_KERNEL") == "1":
            pytest.fail("tmux is missing")
        pytest.skip("tmux is missing")
    rules = tmp_path / "rules.txt"
    rules.write_text(RULES)
    name = f"iptp-repl-{uuid.uuid4().hex[:10]}"
    command = (f"{sys.executable} -m iptparse.cli repl {rules} --packet '{PACKET}'")
    started = tmux("new-session", "-d", "-s", name, "-x", "200", "-y", "50",
                   "-e", f"PYTHONPATH={ROOT}", "-e", f"XDG_STATE_HOME={tmp_path / 'state'}",
                   "-e", "TERM=xterm-256color", command)
    assert started.returncode == 0, started.stderr
    try:
        yield Pane(name)
    finally:
        tmux("kill-session", "-t", name)


def test_prompt_colours_completion_history(pane: Pane, tmp_path: Path) -> None:
    pane.wait_for("(start)>")
    pane.send("break pi-p", "Tab")
    pane.wait_for("(start)> break pi-policy")
    pane.send("Enter")
    pane.wait_for("Breakpoint 1: chain pi-policy")
    pane.send("continue", "Enter")
    pane.wait_for("filter:pi-policy#1>")
    pane.send("list", "Enter")
    pane.wait_for("(line 21)")
    coloured = [line for line in pane.screen(escapes=True).splitlines()
                if "pi-policy" in line and "192.168.0.0/16" in line]
    assert coloured and "\x1b[" in coloured[-1]
    prompts = [line for line in pane.screen(escapes=True).splitlines()
               if "pi-policy" in line and "#" in line and "list" in line]
    assert prompts and "\x1b[" in prompts[-1]  # the prompt's chain is coloured too
    history = tmp_path / "state" / "iptparse" / "history"
    assert "continue" in history.read_text()
    pane.send("C-d")
    deadline = time.monotonic() + WAIT
    while tmux("has-session", "-t", pane.name).returncode == 0:
        assert time.monotonic() < deadline, "Ctrl-D did not quit"
        time.sleep(0.1)


def test_ctrl_c_at_the_prompt_keeps_the_session(pane: Pane) -> None:
    pane.wait_for("(start)>")
    pane.send("some half typed", "C-c")
    pane.send("step", "Enter")
    pane.wait_for("(start)> step\n── mangle PREROUTING ──")
    assert tmux("has-session", "-t", pane.name).returncode == 0
