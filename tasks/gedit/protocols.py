"""Protocol profiles of the ``gedit`` suite: ``official`` (GEdit-Bench as BAGEL ran it) and
``strict``.

A profile supplies the defaults the config leaves open (``judge``, ``judge_options``,
``input_image``, ``input_area``); anything the config sets wins and is recorded. Scoring
(VIEScore prompts, SC/PQ/O, per-type / intersection / language aggregation) is the same
under both: it was checked against the official code.

``official`` follows Bagel@056b5fd ``eval/gen/gedit``: the editor receives the dataset's
``input_image`` as is (gen_images_gedit.py:418,429; BAGEL resizes it itself), the judge is
GPT-4.1 pinned to ``gpt-4.1-2025-04-14`` (viescore/__init__.py:20, EVAL.md:82), one request per
question with ``max_tokens`` 1400 and the server's default sampling
(viescore/mllm_tools/openai.py:137-150), and VIEScore's lenient answer parsing with a random
score after a failed round (``parsing: viescore`` of the chat judges,
:mod:`.viescore_lenient`; viescore/__init__.py:57-80, viescore/utils.py:154-235). GEdit-Bench's
local alternative judge is Qwen2.5-VL-72B-Instruct-AWQ (viescore/mllm_tools/qwen25vl_eval.py:46).
``strict`` parses strictly (exactly two scores in 0-10) and leaves a sample it cannot parse
out of the means (counted in ``judge_errors``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hbench.harness.protocol import OFFICIAL, STRICT, ProtocolCard
from hbench.harness.registry import Registry

PINNED_GPT = "gpt-4.1-2025-04-14"  # BAGEL's VIEScore backbone (viescore/__init__.py:20)
OFFICIAL_INPUT = "input_image"


@dataclass(frozen=True)
class GEditProtocol:
    """Defaults one profile gives the settings a config leaves unset."""

    name: str
    summary: str
    judge: str  # judge for a GEdit-Bench source (the shapes world always uses its exact judge)
    judge_options: dict[str, Any] = field(default_factory=dict)
    input_image: str = "input_image_raw"
    input_area: int = 512 * 512
    parsing: str = "strict"  # judge-answer parsing of the chat judges (openai, vlm)
    follows: tuple[str, ...] = ()


PROTOCOLS: Registry[GEditProtocol] = Registry("gedit protocol")
PROTOCOLS.add(
    STRICT,
    GEditProtocol(
        STRICT,
        "hbench's defaults: raw input resized to about 512x512, the shapes judge unless set",
        judge="shapes",
    ),
    "hbench's defaults (raw input at ~512x512 area)",
)
PROTOCOLS.add(
    OFFICIAL,
    GEditProtocol(
        OFFICIAL,
        "GEdit-Bench as BAGEL ran it: input_image as is, GPT-4.1 (gpt-4.1-2025-04-14) judge",
        judge="openai",
        judge_options={"model": PINNED_GPT},
        input_image=OFFICIAL_INPUT,
        input_area=0,
        parsing="viescore",
        follows=(
            "eval/gen/gedit/gen_images_gedit.py:418,429",
            "eval/gen/gedit/viescore/__init__.py:20",
            "eval/gen/gedit/viescore/mllm_tools/openai.py:137-150",
            "eval/gen/gedit/viescore/__init__.py:57-80 (question loop, give-up guess)",
            "eval/gen/gedit/viescore/utils.py:8-31,154-235 (lenient parsing)",
            "eval/gen/gedit/viescore/mllm_tools/qwen25vl_eval.py:46 (local alternative)",
            "EVAL.md:82",
        ),
    ),
    "GEdit-Bench as BAGEL ran it (input_image, GPT-4.1 pinned judge)",
)

# Qwen2.5-VL language-model sizes by (hidden_size, num_hidden_layers) of config.json.
_QWEN_SIZES = {(8192, 80): "72B", (3584, 28): "7B", (2048, 36): "3B", (5120, 64): "32B"}


def local_model_identity(path: str) -> dict[str, Any]:
    """What a local judge folder's ``config.json`` says the model is (size from its shape)."""
    cfg_path = Path(path) / "config.json"
    try:
        cfg = json.loads(cfg_path.read_text())
    except (OSError, ValueError):
        return {"path": path, "config": "unreadable"}
    text = cfg.get("text_config") or cfg
    shape = (text.get("hidden_size"), text.get("num_hidden_layers"))
    quant = (cfg.get("quantization_config") or {}).get("quant_method")
    return {
        "path": path,
        "model_type": cfg.get("model_type"),
        "size": _QWEN_SIZES.get(shape, f"hidden {shape[0]}, {shape[1]} layers"),
        "quantization": quant,
    }


def judge_standing(judge: str, options: dict[str, Any]) -> tuple[bool, str]:
    """Whether a judge gives numbers comparable with BAGEL's published GEdit figures."""
    if judge == "openai":
        model = options.get("model", "gpt-4.1")
        if model == PINNED_GPT:
            return True, f"the paper's judge ({PINNED_GPT})"
        if model == "gpt-4.1":
            return False, (
                "unpinned gpt-4.1 alias: the served version is recorded per sample; "
                f"BAGEL pins {PINNED_GPT}"
            )
        return False, f"judge model {model!r}; the published figures use {PINNED_GPT}"
    if judge == "vlm":
        ident = local_model_identity(str(options.get("path", "")))
        if ident.get("size") == "72B":
            return False, (
                "Qwen2.5-VL-72B: GEdit-Bench's local alternative judge, close to but not the "
                f"published {PINNED_GPT} judge"
            )
        return False, (
            f"not comparable: local {ident.get('size', 'unknown')} judge; the published figures "
            f"use {PINNED_GPT} (GEdit-Bench's local alternative is Qwen2.5-VL-72B-AWQ)"
        )
    return False, f"judge {judge!r} has no published counterpart"


def protocol_card(protocol: GEditProtocol, cfg: Any, judge: str, options: dict) -> ProtocolCard:
    """Comparability of a gedit suite's numbers with BAGEL's published ones."""
    name, follows = protocol.name, protocol.follows
    if name != OFFICIAL:
        return ProtocolCard(name, False, "strict profile: hbench's input defaults", follows)
    if cfg.source == "shapes":
        return ProtocolCard(name, False, "shapes world: no published figure", follows)
    if cfg.max_samples or cfg.task_types:
        return ProtocolCard(
            name, False, "a subset of GEdit-Bench (max_samples / task_types)", follows
        )
    if cfg.input_image and cfg.input_image != OFFICIAL_INPUT:
        why = f"the editor gets {cfg.input_image!r}; BAGEL edits {OFFICIAL_INPUT!r}"
        return ProtocolCard(name, False, why, follows)
    ok, why = judge_standing(judge, options)
    if ok and options.get("parsing", "strict") != "viescore":
        why += "; strict parsing leaves unparsed answers out (VIEScore would guess a score)"
    return ProtocolCard(name, ok, why, follows)
