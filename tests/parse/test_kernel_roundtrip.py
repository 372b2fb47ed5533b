"""Generated rulesets through the real tools: what iptables-legacy-save prints after
iptables-legacy-restore is exactly what `iptparse fmt` prints for the same input."""

from __future__ import annotations

import pytest

from iptparse.nodes import Family
from iptparse.parser import parse_iptables
from iptparse.render import render
from iptparse.sandbox.netns import Netns
from iptparse.sandbox.oracle import kernel_canonical, strip_save_comments
from iptparse.verify.generate import generate_ruleset

CASES = [(family, seed) for family in (Family.INET, Family.INET6) for seed in range(12)]


@pytest.mark.kernel
@pytest.mark.parametrize("family, seed", CASES, ids=[f"{f.value}-{s}" for f, s in CASES])
def test_generated_ruleset_prints_as_iptables_save(family: Family, seed: int,
                                                   module_netns: Netns) -> None:
    generated = generate_ruleset(seed, family, size=60)
    if generated.ipsets:
        module_netns.run(["ipset", "destroy"], check=False)
        module_netns.run(["ipset", "restore"], input=generated.ipsets)
    try:
        expected = kernel_canonical(generated.rules, family, netns=module_netns)
    finally:
        module_netns.run(["ipset", "destroy"], check=False)
    ours = strip_save_comments(render(parse_iptables(generated.rules, family=family)))
    assert ours == expected
