"""The smallest real run config: the shapes oracle on one GenEval prompt per tag, scored.

Shared by the bad-input corpus and the store fault injection, so both start from the
same run (one place to change when the shapes family or the suites move).
"""

from __future__ import annotations


def oracle_config(extra_suites: str = "") -> str:
    """Config text: seed 0, one thread, the oracle, geneval (plus ``extra_suites`` lines),
    and the shapes-palette metric."""
    return (
        "seed: 0\n"
        "threads: 1\n"
        "system: {family: shapes, reference: oracle, variants: [oracle]}\n"
        "suites:\n"
        "  geneval: {prompts: shapes, prompts_per_tag: 1, samples_per_prompt: 1}\n"
        f"{extra_suites}"
        "metrics:\n"
        "  shapes-palette: {}\n"
    )
