"""Parse one dump in a process of its own (so its peak memory is its own), print figures.

Run by run.py as `python3 benchmarks/parse_child.py FILE [--lenient]`; prints one JSON object:
the parse call's wall and CPU seconds (imports excluded) and the number of rules read.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from iptparse.extensions.base import all_extensions
from iptparse.parser import parse_iptables


def main() -> None:
    path = Path(sys.argv[1])
    lenient = "--lenient" in sys.argv[2:]
    list(all_extensions())  # imported once per process, as any tool loads its modules
    text = path.read_text(errors="surrogateescape")
    start, cpu = time.perf_counter(), time.process_time()
    dump = parse_iptables(text, errors="skip" if lenient else "raise", warnings=[])
    wall, used = time.perf_counter() - start, time.process_time() - cpu
    rules = sum(len(c.rules) for t in dump.tables for c in t.chains)
    print(json.dumps({"wall": wall, "cpu": used, "rules": rules}))


if __name__ == "__main__":
    main()
