"""Reading the files users hand over (iptparse/inputs.py): compressed, with a byte order mark,
in UTF-16 as Windows PowerShell writes them, or not text at all."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from iptparse.inputs import InputError, detect_kind, read_text
from iptparse.parser import parse_iptables
from iptparse.render import render

from ..conftest import PROJECT_CORPORA

SEED = PROJECT_CORPORA / "seed"


@pytest.mark.parametrize("encode", [
    pytest.param(lambda text: text.encode(), id="utf-8"),
    pytest.param(lambda text: b"\xef\xbb\xbf" + text.encode(), id="utf-8 with BOM"),
    pytest.param(lambda text: text.encode("utf-16"), id="utf-16 (native order, BOM)"),
    pytest.param(lambda text: b"\xff\xfe" + text.encode("utf-16-le"), id="utf-16-le"),
    pytest.param(lambda text: b"\xfe\xff" + text.encode("utf-16-be"), id="utf-16-be"),
    pytest.param(lambda text: gzip.compress(text.encode("utf-16")), id="utf-16 gzipped"),
])
def test_every_encoding_reads_as_the_same_dump(encode: object, tmp_path: Path) -> None:
    """PowerShell's `>` writes UTF-16 with CRLF line ends: the same tables, which print as
    iptables-save prints them."""
    text = (SEED / "iptables-save.txt").read_text()
    for ends in ("\n", "\r\n"):
        path = tmp_path / "node.txt"
        path.write_bytes(encode(text.replace("\n", ends)))  # type: ignore[operator]
        name, read = read_text(path)
        assert name == str(path) and read == text.replace("\n", ends)
        assert detect_kind(read) == "iptables"
        assert parse_iptables(read) == parse_iptables(text)
    assert render(parse_iptables(read_text(path)[1])).replace("\r", "") == text


def test_ipset_files_in_utf_16(tmp_path: Path) -> None:
    text = (SEED / "ipset-save.txt").read_text()
    path = tmp_path / "ipset.txt"
    path.write_bytes(text.replace("\n", "\r\n").encode("utf-16"))
    assert read_text(path)[1] == text.replace("\n", "\r\n")
    assert detect_kind(read_text(path)[1]) == "ipset-save"


@pytest.mark.parametrize(("data", "message"), [
    (b"\x7fELF\x02\x01\x01\x00\x00\x00", "binary data, not a text dump"),
    (b"*filter\n" + b"\x00" * 8, "binary data, not a text dump"),
    (b"\xff\xfe*\x00f\x00\x00\xd8", "bad UTF-16 text at byte 6"),
    (b"\x1f\x8b\x08\x00broken", "bad gzip data"),
])
def test_what_is_not_text_is_said(data: bytes, message: str, tmp_path: Path) -> None:
    path = tmp_path / "node.txt"
    path.write_bytes(data)
    with pytest.raises(InputError, match=message):
        read_text(path)


def test_missing_files_and_folders(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_text(tmp_path / "absent")
    with pytest.raises(InputError, match="is a directory"):
        read_text(tmp_path)
