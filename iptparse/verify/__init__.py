"""`iptparse verify`: iptparse's model checked against the running kernel.

A ruleset is loaded into a throwaway kernel lab (`iptparse.sandbox.lab`); packets, given or
sampled from the rules themselves (`samples`), are sent through it and traced by iptparse with
everything the lab fixes (`model`), and each is judged (`compare`): the kernel's rule counters,
policies and delivery must be those of one of iptparse's paths. `generate` writes random
rulesets the kernel accepts, for differential tests; `draw` turns a path's constraint back
into concrete packets, for the soundness property of abstract traces.
"""

from .compare import AGREE, DISAGREE, NOT_MODELLED, Comparison, compare
from .generate import GeneratedRuleset, generate_ruleset
from .model import ModelError, kernel_packet, model_packet
from .report import VerifyReport
from .run import verify_dump
from .samples import sample_packets

__all__ = [
    "AGREE",
    "DISAGREE",
    "NOT_MODELLED",
    "Comparison",
    "GeneratedRuleset",
    "ModelError",
    "VerifyReport",
    "compare",
    "generate_ruleset",
    "kernel_packet",
    "model_packet",
    "sample_packets",
    "verify_dump",
]
