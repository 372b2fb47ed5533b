"""The kernel accepts what the generator writes: rules (iptables-restore) and sets (ipset)."""

from __future__ import annotations

import pytest

from iptparse.nodes import Family
from iptparse.sandbox import Netns
from iptparse.sandbox.oracle import KernelRejected, kernel_canonical
from iptparse.verify.generate import generate_ruleset

pytestmark = pytest.mark.kernel

SEEDS = range(8)


@pytest.mark.parametrize("family", [Family.INET, Family.INET6], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("modelled_only", [False, True], ids=["all", "modelled"])
def test_generated_rulesets_load(module_netns: Netns, family: Family,
                                 modelled_only: bool) -> None:
    refused = []
    for seed in SEEDS:
        generated = generate_ruleset(seed, family, modelled_only=modelled_only)
        try:
            if generated.ipsets:
                result = module_netns.run(["ipset", "restore"], input=generated.ipsets,
                                          check=False)
                if result.returncode:
                    refused.append(f"seed {seed} sets: {result.stderr.strip()}")
                    continue
            kernel_canonical(generated.rules, family, netns=module_netns)
        except KernelRejected as exc:
            refused.append(f"seed {seed}: {exc}\n{generated.rules}")
        finally:
            module_netns.run(["ipset", "destroy"], check=False)
    assert not refused, "\n\n".join(refused)
