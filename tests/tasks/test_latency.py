"""The latency suite through the real runner on a tiny real system (torch modules + flow sampler).

The fixture family is small but real: a text encoder, a conv velocity network driven by the
project's flow-matching Euler sampler with batched CFG (hbench.baselines.runtime.flow), a
VAE-like decoder / encoder, and a tiny LM decoded greedily. NFE is checked against the
analytic count of each sampler configuration: steps x active CFG branches.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from hbench.baselines.runtime.flow import (
    COND,
    NO_IMAGE,
    NO_TEXT,
    FlowSchedule,
    Guidance,
    sample_euler,
)
from hbench.gate_cli import main as gate_main
from hbench.harness import plugins
from hbench.harness.config import load_config
from hbench.harness.runner import execute
from hbench.harness.store import read_records
from hbench.harness.system import EDIT, GENERATE, UNDERSTAND, CapabilityError, TextOutput
from hbench.tasks.latency import LatencyConfig, LatencySuite
from hbench.tasks.latency.inputs import InputError, load_inputs

FAMILY = "tiny-latency-test"
D = 16  # width of the tiny networks


def _ids(text: str) -> list[int]:
    return [sum(map(ord, w)) % 64 for w in text.split()]


class TextEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.EmbeddingBag(64, D)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.emb(ids)


class Velocity(nn.Module):
    """Conv velocity net on 4x8x8 latents, conditioned on (t, text, source-image latents)."""

    def __init__(self) -> None:
        super().__init__()
        self.inp = nn.Conv2d(8, D, 3, padding=1)
        self.film = nn.Linear(D + 1, 2 * D)
        self.out = nn.Conv2d(D, 4, 3, padding=1)

    def forward(
        self, x: torch.Tensor, t: torch.Tensor, text: torch.Tensor, image: torch.Tensor
    ) -> torch.Tensor:
        h = self.inp(torch.cat([x, image], dim=1))
        scale, shift = self.film(torch.cat([text, t[:, None]], dim=1)).chunk(2, dim=1)
        return self.out(torch.tanh(h * (1 + scale[..., None, None]) + shift[..., None, None]))


class Decoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(4, 3, 4, stride=4)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.up(z))


class Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.down = nn.Conv2d(3, 4, 4, stride=4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(x)


class TinyLM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(64, D)
        self.head = nn.Linear(D, 64)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cumsum(self.emb(ids), dim=1))


@dataclass(frozen=True)
class TinyOptions:
    """No options: the variants fix the sampler configurations."""


# variant -> (num_timesteps, text_scale, img_scale, cfg interval)
SAMPLERS: dict[str, tuple[int, float, float, tuple[float, float]]] = {
    "baseline": (11, 4.0, 1.5, (0.0, 1.0)),  # 10 steps, all guided
    "interval": (11, 4.0, 1.5, (0.4, 1.0)),  # guidance only for t in (0.4, 1]
    "few": (4, 1.0, 1.0, (0.0, 1.0)),  # 3 steps, guidance distilled in
}


def analytic_nfe(variant: str, edit: bool) -> int:
    """Steps x branches, from the schedule formula (independent of the sampler code)."""
    n, text_scale, img_scale, (lo, hi) = SAMPLERS[variant]
    s = np.linspace(1.0, 0.0, n)[:-1]  # the final time 0 is never evaluated
    t = 3.0 * s / (1.0 + 2.0 * s)  # shift 3
    guided = int(np.sum((t > lo) & (t <= hi))) if text_scale > 1 else 0
    branches = 3 if (edit and img_scale > 1) else 2
    return (n - 1 - guided) + branches * guided


class TinySystem:
    family: ClassVar[str] = FAMILY

    def __init__(
        self, variant: str, capabilities: frozenset[str] = frozenset({UNDERSTAND, GENERATE, EDIT})
    ) -> None:
        self.variant = variant
        self.capabilities = capabilities
        torch.manual_seed(0)  # same weights in every variant: only the sampler differs
        self.text_encoder, self.velocity = TextEncoder(), Velocity()
        self.decoder, self.encoder, self.lm = Decoder(), Encoder(), TinyLM()
        n, text_scale, img_scale, interval = SAMPLERS[variant]
        self.schedule = FlowSchedule(num_timesteps=n, shift=3.0)
        self.guidance = Guidance(text_scale=text_scale, img_scale=img_scale, interval=interval)

    def load(self, device: str, dtype: torch.dtype) -> None:
        for m in self.profiled_modules().values():
            m.to(device=device, dtype=dtype).eval()

    def _text(self, prompt: str) -> torch.Tensor:
        return self.text_encoder(torch.tensor([_ids(prompt) or [0]]))

    def _sample(
        self, text: torch.Tensor, image: torch.Tensor, seed: int, guidance: Guidance
    ) -> Image.Image:
        conds = {COND: (text, image), NO_TEXT: (torch.zeros_like(text), image),
                 NO_IMAGE: (torch.zeros_like(text), torch.zeros_like(image))}  # fmt: skip

        def model(x: torch.Tensor, t: torch.Tensor, branches: Any) -> torch.Tensor:
            k = len(branches)  # one batched forward for every branch: k rows per image
            txt = torch.cat([conds[b][0] for b in branches])
            img = torch.cat([conds[b][1] for b in branches])
            return self.velocity(x.repeat(k, 1, 1, 1), t.repeat(k), txt, img)

        noise = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            z = sample_euler(model, noise, self.schedule, guidance)
            pixels = self.decoder(z)[0].permute(1, 2, 0)
        return Image.fromarray((pixels.numpy() * 255).astype(np.uint8))

    def generate(self, prompt: str, seed: int) -> Image.Image:
        with torch.no_grad():
            text = self._text(prompt)
        g = Guidance(self.guidance.text_scale, 1.0, self.guidance.interval)  # no image to guide on
        return self._sample(text, torch.zeros(1, 4, 8, 8), seed, g)

    def edit(self, image: Image.Image, instruction: str, seed: int) -> Image.Image:
        x = torch.from_numpy(
            np.asarray(image.convert("RGB").resize((32, 32)), dtype=np.float32) / 255
        )
        with torch.no_grad():
            latents = self.encoder(x.permute(2, 0, 1)[None])
            text = self._text(instruction)
        return self._sample(text, latents, seed, self.guidance)

    def understand(self, images: Any, prompt: str, max_new_tokens: int) -> TextOutput:
        ids = torch.tensor([_ids(prompt)])
        out: list[int] = []
        with torch.no_grad():
            t0 = time.perf_counter()
            logits = self.lm(ids)
            t1 = time.perf_counter()
            for _ in range(max_new_tokens):
                tok = int(logits[0, -1].argmax())
                out.append(tok)
                ids = torch.cat([ids, torch.tensor([[tok]])], dim=1)
                logits = self.lm(ids)
            t2 = time.perf_counter()
        stats = {"new_tokens": len(out), "prefill_s": t1 - t0, "decode_s": t2 - t1}
        return TextOutput(" ".join(map(str, out)), out, stats)

    def profiled_modules(self) -> dict[str, nn.Module]:
        return {"text_encoder": self.text_encoder, "generator": self.velocity, "vae_decoder": self.decoder,
                "vae_encoder": self.encoder, "language_model": self.lm}  # fmt: skip

    def describe(self) -> dict[str, Any]:
        return {"variant": self.variant, "sampler": SAMPLERS[self.variant]}


class TinyFamily:
    name: ClassVar[str] = FAMILY
    variants: ClassVar[dict[str, str]] = {v: f"sampler {c}" for v, c in SAMPLERS.items()}
    reference: ClassVar[str] = "baseline"
    Options: ClassVar[type] = TinyOptions

    @classmethod
    def build(cls, variant: str, options: TinyOptions) -> TinySystem:
        return TinySystem(variant)


if FAMILY not in plugins.SYSTEMS:
    plugins.SYSTEMS.add(FAMILY, TinyFamily, "test fixture of tests/tasks/test_latency.py")

CONFIG = f"""\
seed: 3
system: {{family: {FAMILY}, variants: [baseline, interval, few]}}
suites:
  latency: {{samples: 2, repeats: 2, warmup: 1, max_new_tokens: 6, trace_dir: TRACE}}
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, dict[str, Any]]:
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("latency")
    cfg_path = root / "run.yaml"
    cfg_path.write_text(CONFIG.replace("TRACE", str(root / "traces")))
    config = load_config(cfg_path, plugins.SYSTEMS, plugins.SUITES)
    scores = execute(config, root / "run", progress=False, argv=["test"])
    return root, scores


def _records(root: Path) -> list[dict[str, Any]]:
    return read_records(root / "run")


def test_nfe_equals_the_analytic_count_for_each_sampler(run) -> None:
    root, _ = run
    assert analytic_nfe("baseline", False) == 20 and analytic_nfe("baseline", True) == 30
    assert analytic_nfe("few", True) == 3 and 10 < analytic_nfe("interval", True) < 30
    for rec in _records(root):
        assert rec["error"] is None, rec["error"]
        workload, prof = rec["details"]["workload"], rec["profile"]
        if workload == "understanding":
            # no generator call: no NFE field (not a misleading 0); prefill + 6 decode steps
            assert "nfe" not in prof and prof["modules"]["language_model"]["calls"] == 7
            continue
        assert prof["nfe"] == analytic_nfe(rec["variant"], workload == "edit"), rec["key"]
        assert prof["merged_calls"] == SAMPLERS[rec["variant"]][0] - 1  # one batched call per step
        assert prof["modules"]["vae_decoder"]["calls"] == 1


def test_warmup_is_not_recorded_and_variants_are_interleaved(run) -> None:
    root, _ = run
    lines = [json.loads(x) for x in (root / "run" / "records.jsonl").read_text().splitlines()]
    assert len(lines) == 3 * 2 * 2 * 3  # workloads x samples x repeats x variants
    assert not any("warmup" in r["sample"] for r in lines)
    assert [r["variant"] for r in lines[:6]] == ["baseline", "interval", "few"] * 2
    # Repeat-major: every input once before any input's second repeat.
    samples = list(dict.fromkeys(r["sample"] for r in lines))
    assert samples[:6] == [
        f"{w}/{i:03d}/r0" for w in ("understanding", "t2i", "edit") for i in range(2)
    ]
    same_work = {r["seed"] for r in lines if r["sample"].startswith("t2i/000/")}
    assert len(same_work) == 1  # all repeats of one input share its seed


def test_per_sample_metrics(run) -> None:
    root, _ = run
    for rec in _records(root):
        m, prof = rec["metrics"], rec["profile"]
        assert 0 < m["seconds"] <= prof["seconds"]
        if rec["details"]["workload"] == "understanding":
            assert m["new_tokens"] == 6 and m["tokens_per_s"] == pytest.approx(6 / m["seconds"])
            assert {"prefill_s", "decode_s"} <= set(m)
        else:
            assert len(rec["output"]["image_sha1"]) == 40 and rec["output"]["size"] == [32, 32]


def test_summaries_and_comparisons(run) -> None:
    root, scores = run
    block = scores["suites"]["latency"]
    for variant in SAMPLERS:
        workloads = block["variants"][variant]["scores"]["workloads"]
        t2i = workloads["t2i"]
        assert t2i["n"] == 4 and t2i["nfe"]["min"] == t2i["nfe"]["max"] == analytic_nfe(
            variant, False
        )
        sec = t2i["seconds"]
        assert sec["p10"] <= sec["median"] <= sec["p90"] <= sec["p99"] <= sec["max"]
        assert {"generator_s", "vae_decoder_s", "text_encoder_s", "outside_modules_s"} <= set(
            t2i["stages_s"]
        )
        assert workloads["edit"]["stages_s"]["vae_encoder_s"] > 0
        assert "vae_encoder_s" not in t2i["stages_s"] and "language_model_s" not in t2i["stages_s"]
        assert 0 <= t2i["overhead_share"] <= 1 and 0 <= t2i["harness_share"] <= 1
        assert t2i["peak_memory_bytes"] > 0
        und = workloads["understanding"]
        assert und["tokens_per_s"]["mean"] > 0 and {"prefill_s", "decode_s"} <= set(und["stages_s"])
    few = block["comparisons"]["few"]["workloads"]
    engine = {e["id"]: e for e in block["comparisons"]["few"]["estimates"]}
    assert engine["nfe_ratio|workload=t2i"]["estimate"] == pytest.approx(20 / 3)
    assert not any(k.endswith("|all") for k in engine)  # workloads are never pooled
    assert few["understanding"]["identical_outputs"]["estimate"] == 1.0  # same LM in every variant
    assert few["t2i"]["identical_outputs"]["estimate"] == 0.0  # 3 steps vs 10: different images
    # The speedup is the median of per-sample profiled-time ratios of the same sample.
    recs = {(r["sample"], r["variant"]): r for r in _records(root)}
    ratios = [recs[s, "baseline"]["profile"]["seconds"] / recs[s, "few"]["profile"]["seconds"]
              for (s, v) in recs if v == "few" and s.startswith("edit/")]  # fmt: skip
    sp = engine["speedup|workload=edit"]
    assert sp["estimate"] == pytest.approx(float(np.median(ratios)))
    assert sp["ci_low"] <= sp["estimate"] <= sp["ci_high"] and sp["n"] == 4
    assert sp["method"]["resamples"] == 10_000 and sp["method"]["seed"] == 0


def test_trace_exported_from_a_warmup_call(run) -> None:
    root, _ = run
    traces = sorted(p.name for p in (root / "traces").glob("*.json"))
    assert traces == sorted(
        f"{FAMILY}-{v}-{w}.json" for v in SAMPLERS for w in ("understanding", "t2i", "edit")
    )
    events = json.loads((root / "traces" / f"{FAMILY}-baseline-t2i.json").read_text())[
        "traceEvents"
    ]
    assert any("conv2d" in str(e.get("name", "")) for e in events)


def test_gate_on_the_latency_run(run, tmp_path, capsys) -> None:
    root, _ = run
    claims = tmp_path / "claims.yaml"
    good = [
        f"  - {{suite: latency, workload: {w}, variant: {v}, check: nfe, op: '==', value: {analytic_nfe(v, w == 'edit')}}}"
        for v in SAMPLERS
        for w in ("t2i", "edit")
    ]
    good.append(
        "  - {suite: latency, workload: understanding, variant: few, check: exact_match, op: '==', value: 1}"
    )
    claims.write_text("claims:\n" + "\n".join(good) + "\n")
    assert gate_main([str(root / "run"), "--claims", str(claims)]) == 0
    claims.write_text(
        "claims:\n  - {suite: latency, workload: t2i, variant: few, check: nfe, op: '==', value: 1}\n"
    )
    assert gate_main([str(root / "run"), "--claims", str(claims)]) == 1
    assert "FAIL  latency[workload=t2i]/few nfe == 1: measured 3" in capsys.readouterr().out


def test_capabilities_are_per_workload() -> None:
    suite = LatencySuite(LatencyConfig(workloads=("t2i", "edit"), samples=1, repeats=1))
    assert suite.required_capabilities() == {GENERATE, EDIT}
    system = TinySystem("few", capabilities=frozenset({GENERATE}))
    t2i, edit = (i for i in suite.items(0))
    assert suite.infer(system, t2i).seconds > 0
    with pytest.raises(CapabilityError, match="does not support 'edit'"):
        suite.infer(system, edit)


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="workloads must be"):
        LatencyConfig(workloads=("t2i", "video"))
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        LatencyConfig(repeats=0)
    with pytest.raises(ValueError, match="trace_dir needs warmup"):
        LatencyConfig(warmup=0, trace_dir="x")


def test_inputs_from_a_jsonl_file(tmp_path) -> None:
    Image.new("RGB", (8, 8), "red").save(tmp_path / "a.png")
    rows = [
        {"workload": "t2i", "prompt": "a red car"},
        {"workload": "edit", "image": "a.png", "instruction": "make it blue"},
        {
            "workload": "understanding",
            "image": "a.png",
            "prompt": "what colour?",
            "max_new_tokens": 5,
        },
    ]
    path = tmp_path / "inputs.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (und,) = load_inputs(str(path), "understanding", 1, 0, 32)
    assert und["max_new_tokens"] == 5 and und["images"][0].size == (8, 8)
    assert load_inputs(str(path), "edit", 1, 0, 32)[0]["instruction"] == "make it blue"
    with pytest.raises(InputError, match=r"needs 2 't2i' inputs, found 1"):
        load_inputs(str(path), "t2i", 2, 0, 32)
    # Text-only understanding inputs (for text LMs) carry no image.
    path.write_text(json.dumps({"workload": "understanding", "prompt": "why?"}) + "\n")
    (text_only,) = load_inputs(str(path), "understanding", 1, 0, 32)
    assert text_only == {"images": [], "prompt": "why?", "max_new_tokens": 32}
    path.write_text(
        json.dumps(rows[0]) + "\n" + json.dumps({"workload": "edit", "image": "a.png"}) + "\n"
    )
    with pytest.raises(
        InputError, match=r"inputs.jsonl:2: edit input needs string field\(s\) \['instruction'\]"
    ):
        load_inputs(str(path), "t2i", 1, 0, 32)


# ---- the shapes family's real samplers (tiny random weights) ------------------------------

SHAPES_FAMILY = "shapes-random-latency-test"
SHAPES_NFE = {
    "baseline": (98, 147),
    "euler6": (12, 18),
    "nfe6": (6, 6),
    "nfe1": (1, 1),
}  # (t2i, edit)


@dataclass(frozen=True)
class ShapesRandomOptions:
    """Directory of random generator weights written by the test."""

    weights: str = ""


class ShapesRandomFamily:
    """The shapes family's image engines and oracle text engine over random tiny weights."""

    name: ClassVar[str] = SHAPES_FAMILY
    variants: ClassVar[dict[str, str]] = {v: v for v in SHAPES_NFE}
    reference: ClassVar[str] = "baseline"
    Options: ClassVar[type] = ShapesRandomOptions

    @classmethod
    def build(cls, variant: str, options: ShapesRandomOptions) -> Any:
        from hbench.baselines.shapes.family import VARIANTS, ShapesSystem
        from hbench.baselines.shapes.generator import build_image_engine
        from hbench.baselines.shapes.oracle import OracleTextEngine

        image = build_image_engine(VARIANTS[variant][1], Path(options.weights))
        return ShapesSystem(variant, OracleTextEngine(), image)


if SHAPES_FAMILY not in plugins.SYSTEMS:
    plugins.SYSTEMS.add(
        SHAPES_FAMILY, ShapesRandomFamily, "test fixture of tests/tasks/test_latency.py"
    )


def test_nfe_of_the_shapes_samplers_through_the_runner(tmp_path) -> None:
    from hbench.baselines.shapes.generator.network import GeneratorConfig, ShapesDenoiser
    from hbench.baselines.shapes.generator.tokens import WordTokenizer
    from hbench.baselines.shapes.generator.weights import save_weights

    tiny = GeneratorConfig(
        vocab_size=WordTokenizer().size, channels=(8, 16, 32), text_dim=32, heads=2
    )
    torch.manual_seed(0)
    for name in ("generator_teacher", "generator_nfe6", "generator_nfe1"):
        save_weights(
            ShapesDenoiser(tiny).state_dict(),
            name,
            {"config": tiny.to_dict(), "role": name},
            tmp_path,
        )
    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        f"system: {{family: {SHAPES_FAMILY}, variants: [baseline, euler6, nfe6, nfe1], options: {{weights: {tmp_path}}}}}\n"
        "suites:\n  latency: {workloads: [t2i, edit], samples: 1, repeats: 1, warmup: 0}\n"
    )
    scores = execute(
        load_config(cfg, plugins.SYSTEMS, plugins.SUITES),
        tmp_path / "run",
        progress=False,
        argv=["t"],
    )
    block = scores["suites"]["latency"]
    for variant, (t2i, edit) in SHAPES_NFE.items():
        workloads = block["variants"][variant]["scores"]["workloads"]
        assert workloads["t2i"]["nfe"]["max"] == workloads["t2i"]["nfe"]["min"] == t2i, variant
        assert workloads["edit"]["nfe"]["max"] == workloads["edit"]["nfe"]["min"] == edit, variant
        # The teacher runs each CFG branch as its own forward (BAGEL's loop): 98 calls; euler6
        # batches its branches (one call per step); the students run one row per step.
        merged = 98 if variant == "baseline" else (6 if variant in ("euler6", "nfe6") else 1)
        assert workloads["t2i"]["merged_calls"]["max"] == merged
    engine = {e["id"]: e for e in block["comparisons"]["nfe6"]["estimates"]}
    assert engine["nfe_ratio|workload=t2i"]["estimate"] == pytest.approx(98 / 6)
    # Gate claims of the same form as claims/shapes.yaml hold for every sampler configuration.
    claims = [
        f"  - {{suite: latency, workload: {w}, variant: {v}, check: nfe, op: '==', value: {n}}}"
        for v, pair in SHAPES_NFE.items()
        for w, n in zip(("t2i", "edit"), pair, strict=True)
    ]
    (tmp_path / "nfe.yaml").write_text("claims:\n" + "\n".join(claims) + "\n")
    assert len(claims) == 2 * len(SHAPES_NFE)
    assert gate_main([str(tmp_path / "run"), "--claims", str(tmp_path / "nfe.yaml")]) == 0


def test_text_records_keep_acceptance_per_draft_position() -> None:
    """A speculative system's per-position acceptance survives into the record (the report's
    acceptance panel reads it), computed by the runtime's own DecodeStats."""
    from hbench.baselines.runtime.decoding import DecodeStats
    from hbench.harness.suite import Item
    from hbench.tasks.latency.suite import Timed

    stats = DecodeStats(new_tokens=9, target_forwards=4)
    for drafted, accepted in ((4, 4), (4, 1), (4, 2)):
        stats.record_round(drafted, accepted)
    out = TextOutput("a b c", [1, 2, 3], stats.as_dict())
    item = Item("00000", 1, {"workload": "understanding", "index": 0, "repeat": 0})
    result = LatencySuite(LatencyConfig()).evaluate(item, Timed(out, 0.5), artifacts=None)
    # position 1 tried 3x accepted 3x; position 2 tried 3x accepted 2x; position 3 tried 2x
    # accepted 1x; position 4 tried 1x accepted 1x
    assert result.details["accept_per_position"] == [1.0, 2 / 3, 0.5, 1.0]
    assert result.details["drafted_per_position"] == [3, 3, 2, 1]
    assert result.details["accepted_per_position"] == [3, 2, 1, 1]
    assert result.metrics["acceptance_length"] == stats.acceptance_length
