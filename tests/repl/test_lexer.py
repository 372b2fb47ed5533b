"""The pygments lexer: every character of a dump in some token, the right kinds, and the
`iptables` plugin name pygmentize uses."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from pygments.token import (  # type: ignore[import-untyped, unused-ignore]
    Error,
    Generic,
    Keyword,
    Name,
    Number,
    Operator,
    String,
)

from iptparse.repl.lexer import IptablesSaveLexer
from iptparse.repl.output import Output
from iptparse.repl.seed import seed_dir

ROOT = Path(__file__).resolve().parents[2]


def tokens(text: str, **options: object) -> list[tuple[object, str]]:
    return [(t, v) for t, v in IptablesSaveLexer(**options).get_tokens(text) if v.strip()]


def test_seed_dump_lexes_without_errors_and_keeps_every_character() -> None:
    text = (seed_dir() / "iptables-save.txt").read_text()
    toks = list(IptablesSaveLexer().get_tokens(text))
    assert not [v for t, v in toks if t is Error]
    assert "".join(v for _, v in toks) == text


def test_token_kinds_of_a_rule() -> None:
    got = tokens('-A cali-pi-x -s 10.0.0.0/8 ! -i eth0 -p tcp -m comment --comment "a \\"b\\"" '
                 "-m mark --mark 0x10000/0x10000 -m multiport --dports 80,443 -j MARK "
                 "--set-xmark 0x10000/0x10000\n")
    assert got[:4] == [(Keyword, "-A"), (Name.Function, "cali-pi-x"), (Name.Attribute, "-s"),
                       (Number, "10.0.0.0/8")]
    assert (Operator, "!") in got
    assert (Name.Namespace, "comment") in got and (String.Double, '"a \\"b\\""') in got
    assert (Number.Hex, "0x10000/0x10000") in got
    assert (Name.Builtin, "MARK") in got


def test_targets_verdicts_and_chains() -> None:
    dump = "*filter\n:INPUT ACCEPT [0:0]\n:DOCKER - [0:0]\n-A INPUT -j DOCKER\n" \
           "-A INPUT -j ACCEPT\n-A INPUT -j DROP\n-A INPUT -g KUBE-SVC-X\n-A INPUT -j DNAT\n" \
           "COMMIT\n"
    got = tokens(dump)
    assert (Keyword.Namespace, "filter") in got and (Keyword.Reserved, "COMMIT") in got
    assert (Name.Function, "DOCKER") in got[got.index((Keyword, "-j")):]  # declared: a chain
    assert (Generic.Inserted, "ACCEPT") in got and (Generic.Deleted, "DROP") in got
    assert (Name.Function, "KUBE-SVC-X") in got  # has a dash: not an extension name
    assert (Name.Builtin, "DNAT") in got
    # a single rule out of its dump: the caller says which names are chains
    assert (Name.Function, "DOCKER") in tokens("-A X -j DOCKER", chains=["DOCKER"])
    assert (Name.Builtin, "DOCKER") in tokens("-A X -j DOCKER")


def test_output_highlights_only_with_colour() -> None:
    import io

    plain = Output(io.StringIO())
    assert plain.rule("-A X -j DROP") == "-A X -j DROP"
    coloured = Output(io.StringIO(), color=True)
    text = coloured.rule("-A X -j DROP")
    assert "\x1b[" in text and text.replace("\x1b[", "").count("DROP") == 1


def test_guess_from_text() -> None:
    dump = "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j X\nCOMMIT\n"
    assert IptablesSaveLexer.analyse_text(dump) == 0.9
    assert IptablesSaveLexer.analyse_text("hello") == 0.0


def _plugin_env(tmp_path: Path) -> dict[str, str]:
    """The entry point pyproject.toml declares, as an installed distribution would carry it
    (used when iptparse is not pip-installed in this environment)."""
    text = (ROOT / "pyproject.toml").read_text()
    section = text.split('[project.entry-points."pygments.lexers"]', 1)[1].split("\n[", 1)[0]
    declared = dict(re.findall(r'^(\S+) = "([^"]+)"$', section, re.MULTILINE))
    assert declared, "pyproject.toml declares no pygments lexer"
    info = tmp_path / "iptparse_plugin-0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: iptparse-plugin\nVersion: 0.0\n")
    lines = ["[pygments.lexers]"] + [f"{k} = {v}" for k, v in declared.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])
    return env


def test_pygmentize_knows_the_iptables_lexer(tmp_path: Path) -> None:
    installed = any(ep.name == "iptables"
                    for ep in metadata.entry_points(group="pygments.lexers"))
    env = dict(os.environ) if installed else _plugin_env(tmp_path)
    rule = "-A FORWARD -m mark --mark 0x10000/0x10000 -j ACCEPT\n"
    for alias in ("iptables", "iptables-save"):
        done = subprocess.run([sys.executable, "-m", "pygments", "-l", alias, "-f",
                               "terminal256"], input=rule, capture_output=True, text=True,
                              env=env, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        assert "\x1b[" in done.stdout and "0x10000/0x10000" in done.stdout
    found = subprocess.run([sys.executable, "-c", "from pygments.lexers import "
                            "get_lexer_for_filename as f, get_lexer_for_mimetype as m; "
                            "print(type(f('rules.v4')).__name__, "
                            "type(m('text/x-iptables-save')).__name__)"],
                           capture_output=True, text=True, env=env, timeout=60, check=False)
    assert found.stdout.split() == ["IptablesSaveLexer"] * 2, found.stderr

