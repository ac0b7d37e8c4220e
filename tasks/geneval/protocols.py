"""Protocol profiles of the GenEval suite and whether its numbers compare with the paper's.

The scoring rules are GenEval's official ones under every profile (:mod:`.rules`, verified
against ``evaluation/evaluate_images.py``); what a profile adds is the standard a run must
meet to be set beside the published numbers. ``official``: the official detector (mmdet
Mask2Former Swin-S, ``detector: mmdet``), the CLIP colour classifier, the 553 official
prompts (BAGEL's 0.82 is on these; its script's default rewritten prompts give its 0.88),
4 images per prompt (BAGEL ``eval/gen/gen_images_mp.py``), the official thresholds.
``strict``: the same rules with no claim of comparability.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hbench.harness.protocol import OFFICIAL, STRICT, ProtocolCard
from hbench.harness.registry import Registry

OFFICIAL_PROMPTS = 553
HF_LABEL = "transformers Mask2Former: equivalence to mmdet not measured"


@dataclass(frozen=True)
class GenEvalProtocol:
    """A named GenEval profile (the rules are the same; the comparability standard is not)."""

    name: str
    summary: str
    follows: tuple[str, ...] = ()


PROTOCOLS: Registry[GenEvalProtocol] = Registry("geneval protocol")
PROTOCOLS.add(STRICT, GenEvalProtocol(STRICT, "official rules, any detector"), "official rules")
PROTOCOLS.add(
    OFFICIAL,
    GenEvalProtocol(
        OFFICIAL,
        "official rules with the official detector, colour classifier, prompts and 4 images each",
        follows=(
            "djghosh13/geneval evaluation/evaluate_images.py (rules, thresholds 0.3 / 0.9)",
            "djghosh13/geneval evaluation/summary_scores.py (overall = mean of tag means)",
            "Bagel eval/gen/gen_images_mp.py (4 images per prompt), scripts/eval/run_geneval.sh",
        ),
    ),
    "official rules + the official detector and prompt set",
)


def protocol_card(protocol: GenEvalProtocol, cfg: Any, n_prompts: int) -> ProtocolCard:
    """Whether a GenEval suite's numbers can be set beside the published ones, and why."""
    name, follows = protocol.name, protocol.follows
    if name != OFFICIAL:
        return ProtocolCard(name, False, "strict profile: no claim of comparability", follows)
    if cfg.prompts in ("shapes", "coco"):
        return ProtocolCard(
            name, False, f"generated {cfg.prompts!r} prompts, not GenEval's", follows
        )
    problems = []
    if cfg.detector == "hf-detection":
        problems.append(HF_LABEL)
    elif cfg.detector != "mmdet":
        problems.append(f"detector {cfg.detector!r}, not the official mmdet Mask2Former")
    if cfg.color_classifier != "clip":
        problems.append(f"colour classifier {cfg.color_classifier!r}, not CLIP")
    if n_prompts != OFFICIAL_PROMPTS or cfg.limit:
        problems.append(f"{n_prompts} prompts, not the official {OFFICIAL_PROMPTS}")
    if cfg.samples_per_prompt != 4:
        problems.append(f"{cfg.samples_per_prompt} images per prompt, not 4")
    if (cfg.threshold, cfg.counting_threshold, cfg.max_objects, cfg.position_threshold) != (
        0.3, 0.9, 16, 0.1,
    ):  # fmt: skip
        problems.append("thresholds differ from the official ones")
    if problems:
        return ProtocolCard(name, False, "; ".join(problems), follows)
    why = "official detector, rules and prompts (BAGEL's 0.82 is on the original prompts)"
    return ProtocolCard(name, True, why, follows)
