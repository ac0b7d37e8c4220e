"""The family's own code paths that run without a BAGEL checkout.

Attention stand-in vs explicit attention, distilled weights (full and LoRA) and their exact
swap, fused RMSNorm swap, kernel CFG combine vs the runtime combine, kernel greedy
verification vs the runtime rule, the transformers-4 RoPE default, the GEdit output size.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from hbench.baselines.bagel import attention, compat
from hbench.baselines.bagel.contexts import edit_size
from hbench.baselines.bagel.generator import combine_kernel, combine_pytorch
from hbench.baselines.bagel.loading import WeightSwap, distilled_tensors, fused_norms
from hbench.baselines.bagel.schedule import GEDIT, GENEVAL, SamplerConfig
from hbench.baselines.bagel.system import kernel_verify_greedy

torch.set_num_threads(1)


def _attention_naive(q, k, v, cu_q, cu_k, causal):
    out = []
    for i in range(len(cu_q) - 1):
        qs, ks, vs = q[cu_q[i] : cu_q[i + 1]], k[cu_k[i] : cu_k[i + 1]], v[cu_k[i] : cu_k[i + 1]]
        rep = q.shape[1] // k.shape[1]
        ks, vs = ks.repeat_interleave(rep, 1), vs.repeat_interleave(rep, 1)
        s = torch.einsum("qhd,khd->hqk", qs, ks) / math.sqrt(q.shape[-1])
        if causal:  # query j (of Lq) sees keys up to Lk - Lq + j
            lq, lk = qs.shape[0], ks.shape[0]
            allowed = torch.arange(lk)[None] <= torch.arange(lq)[:, None] + lk - lq
            s = s.masked_fill(~allowed, float("-inf"))
        out.append(torch.einsum("hqk,khd->qhd", s.softmax(-1), vs))
    return torch.cat(out)


@pytest.mark.parametrize("causal", [False, True])
def test_varlen_attention_matches_explicit_attention(causal: bool) -> None:
    g = torch.Generator().manual_seed(0)
    cu_q, cu_k = [0, 3, 4, 9], [0, 7, 8, 13]  # queries after a cache (3 < 7), a 1-token step, 5 = 5
    q = torch.randn(9, 4, 8, generator=g)
    k, v = torch.randn(13, 2, 8, generator=g), torch.randn(13, 2, 8, generator=g)
    got = attention.flash_attn_varlen_func(
        q, k, v, torch.tensor(cu_q), torch.tensor(cu_k), 5, 7, causal=causal
    )
    torch.testing.assert_close(
        got, _attention_naive(q, k, v, cu_q, cu_k, causal), rtol=1e-5, atol=1e-5
    )
    with pytest.raises(NotImplementedError):
        attention.flash_attn_varlen_func(
            q, k, v, torch.tensor(cu_q), torch.tensor(cu_k), dropout_p=0.1
        )


def test_fallback_registers_only_when_absent() -> None:
    if attention.flash_attn_available():
        with pytest.raises(RuntimeError, match="installed"):
            attention.install_fallback()
        return
    attention.install_fallback()
    import flash_attn  # type: ignore[import-not-found]

    assert flash_attn.flash_attn_varlen_func is attention.flash_attn_varlen_func
    assert attention.flash_attn_status() == "reference"
    # transformers' probe must not take the stand-in for the real package.
    from transformers.utils.import_utils import _is_package_available

    assert _is_package_available("flash_attn", return_version=True)[0] is False


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 3)
        self.gen = nn.Linear(3, 2, bias=False)


def test_full_distilled_weights_swap_exactly(tmp_path: Path) -> None:
    torch.manual_seed(0)
    m = Tiny()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    new = torch.randn(2, 3)
    save_file({"gen.weight": new}, str(tmp_path / "full.safetensors"))
    swap = WeightSwap(m, distilled_tensors(m, tmp_path / "full.safetensors"))
    x = torch.randn(5, 3)
    with swap.active():
        assert torch.equal(m.gen.weight, new) and torch.equal(m.gen(x), x @ new.T)
        assert torch.equal(m.proj.weight, before["proj.weight"])
    for k, v in m.state_dict().items():  # restored bit-exactly, twice
        assert torch.equal(v, before[k])
    with swap.active():
        assert torch.equal(m.gen.weight, new)
    assert torch.equal(m.gen.weight, before["gen.weight"])


@pytest.mark.parametrize("prefix", ["", "base_model.model."])
def test_lora_merge(tmp_path: Path, prefix: str) -> None:
    torch.manual_seed(1)
    m = Tiny()
    a, b = torch.randn(2, 3), torch.randn(2, 2)  # r = 2: A [r, in], B [out, r]
    f = tmp_path / "lora.safetensors"
    save_file({f"{prefix}gen.lora_A.weight": a, f"{prefix}gen.lora_B.weight": b}, str(f),
              metadata={"lora_alpha": "4", "r": "2"})  # fmt: skip
    got = distilled_tensors(m, f)
    torch.testing.assert_close(got["gen.weight"], m.gen.weight + 2.0 * b @ a)
    got = distilled_tensors(m, f, lora_scale=0.5)
    torch.testing.assert_close(got["gen.weight"], m.gen.weight + 0.5 * b @ a)


def test_lora_scale_from_adapter_config_and_errors(tmp_path: Path) -> None:
    m = Tiny()
    f = tmp_path / "adapter_model.safetensors"
    save_file(
        {"gen.lora_A.weight": torch.ones(1, 3), "gen.lora_B.weight": torch.ones(2, 1)}, str(f)
    )
    with pytest.raises(ValueError, match="lora_scale"):
        distilled_tensors(m, f)
    (tmp_path / "adapter_config.json").write_text(json.dumps({"lora_alpha": 8, "r": 1}))
    torch.testing.assert_close(distilled_tensors(m, f)["gen.weight"], m.gen.weight + 8.0)
    bad = tmp_path / "bad.safetensors"
    save_file({"gen.lora_A.weight": torch.ones(1, 3)}, str(bad))
    with pytest.raises(ValueError, match="needs lora_A, lora_B"):
        distilled_tensors(m, bad, lora_scale=1.0)
    save_file({"nope.weight": torch.ones(2, 3)}, str(bad))
    with pytest.raises(ValueError, match="not a parameter"):
        distilled_tensors(m, bad)
    save_file({"gen.weight": torch.ones(3, 3)}, str(bad))
    with pytest.raises(ValueError, match="shape"):
        distilled_tensors(m, bad)


class Qwen2RMSNorm(nn.Module):
    """BAGEL's norm (same math as modeling/qwen2's): matched by class name by fused_norms."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n))
        self.variance_epsilon = 1e-6

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.to(torch.float32)
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * h.to(x.dtype)


def test_fused_norms_swap_and_restore() -> None:
    torch.manual_seed(2)
    m = nn.Sequential(Qwen2RMSNorm(8), nn.Linear(8, 8), nn.Sequential(Qwen2RMSNorm(8)))
    x = torch.randn(3, 5, 8)
    ref = m(x)
    originals = [m[0], m[2][0]]
    with fused_norms(m) as n:
        assert n == 2 and type(m[0]).__name__ == "FusedRMSNorm"
        torch.testing.assert_close(m(x), ref, rtol=1e-6, atol=1e-6)
    assert [m[0], m[2][0]] == originals


@pytest.mark.parametrize(
    "cfg", [GENEVAL, GEDIT, SamplerConfig(cfg_renorm_type="channel", cfg_renorm_min=0.3)]
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_kernel_combine_matches_runtime_combine(cfg: SamplerConfig, dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(3)
    v, vt, vi = (torch.randn(1, 16, 64, generator=g).to(dtype) for _ in range(3))
    img = vi if cfg.cfg_img_scale > 1 else None
    tol = 1e-5 if dtype == torch.float32 else 2e-2
    torch.testing.assert_close(
        combine_kernel(v, vt, img, cfg), combine_pytorch(v, vt, img, cfg), rtol=tol, atol=tol
    )


def test_combine_is_bagels_formula() -> None:
    """GEdit's text_channel combine written out as _forward_flow does it."""
    g = torch.Generator().manual_seed(4)
    v, vt, vi = (torch.randn(1, 10, 64, generator=g) for _ in range(3))
    text = vt + 4.0 * (v - vt)
    text = text * (v.norm(dim=-1, keepdim=True) / (text.norm(dim=-1, keepdim=True) + 1e-8)).clamp(
        0.0, 1.0
    )
    want = vi + 1.5 * (text - vi)
    torch.testing.assert_close(combine_pytorch(v, vt, vi, GEDIT), want)
    guided = vt + 4.0 * (v - vt)
    want = guided * (v.norm() / (guided.norm() + 1e-8)).clamp(0.0, 1.0)
    torch.testing.assert_close(combine_pytorch(v, vt, None, GENEVAL), want)


def test_kernel_verify_matches_runtime_rule() -> None:
    from hbench.baselines.runtime.speculative import verify_greedy

    g = torch.Generator().manual_seed(5)
    logits = torch.randn(5, 50, generator=g)
    target = logits.argmax(-1)
    for drafts in (
        target[:4].clone(),
        torch.tensor([int(target[0]), 7, 7, 7]),
        torch.tensor([1, 2, 3, 4]),
    ):
        assert kernel_verify_greedy(drafts, logits) == verify_greedy(drafts, logits)


def test_default_rope_matches_transformers_4() -> None:
    from types import SimpleNamespace

    cfg = SimpleNamespace(hidden_size=64, num_attention_heads=4, rope_theta=10000.0)
    inv, factor = compat.default_rope_parameters(cfg, "cpu")
    want = 1.0 / 10000.0 ** (torch.arange(0, 16, 2).float() / 16)
    torch.testing.assert_close(inv, want)
    assert factor == 1.0
    inv2, _ = compat.default_rope_parameters(None, "cpu", base=10000.0, dim=16)
    torch.testing.assert_close(inv2, want)
    compat.apply()
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    assert "default" in ROPE_INIT_FUNCTIONS


@pytest.mark.parametrize(
    "size, want",
    [
        ((1000, 500), (512, 1024)),
        ((512, 512), (512, 512)),
        ((2000, 1000), (512, 1024)),
        ((300, 400), (688, 512)),
    ],
)
def test_edit_size_follows_the_gedit_script(size: tuple[int, int], want: tuple[int, int]) -> None:
    # (w, h) -> (h, w): scale = max(min(1024 / long, 1), 512 / short), sides rounded to 16.
    assert edit_size(*size, 1024, 512) == want
