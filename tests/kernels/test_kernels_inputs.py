"""Bad inputs raise errors that name the argument, what was given and what is allowed."""

from __future__ import annotations

import pytest
import torch

from hbench.kernels import rmsnorm, rope, verify, verify_sampling


def test_rmsnorm_rejects_bad_shapes_and_dtypes() -> None:
    x = torch.randn(3, 8)
    with pytest.raises(ValueError, match=r"weight shape \(7,\) != \(8,\)"):
        rmsnorm.rmsnorm(x, torch.ones(7))
    with pytest.raises(ValueError, match="x dtype torch.float64 not supported"):
        rmsnorm.rmsnorm(x.double(), torch.ones(8))
    with pytest.raises(ValueError, match="residual .* must match"):
        rmsnorm.fused_add_rmsnorm(x, torch.randn(3, 8).half(), torch.ones(8))
    with pytest.raises(ValueError, match="out must be a contiguous"):
        rmsnorm.rmsnorm(x, torch.ones(8), out=torch.empty(8, 3).t())


def test_rope_rejects_bad_layouts() -> None:
    q, k = torch.randn(2, 5, 4, 8), torch.randn(2, 5, 2, 8)
    cos = sin = torch.randn(5, 8)
    with pytest.raises(ValueError, match="head_dim must be even"):
        rope.apply_rope_(q[..., :7], k[..., :7], cos[:, :7], sin[:, :7])
    with pytest.raises(ValueError, match=r"cos/sin \(4, 8\)"):
        rope.apply_rope_(q, k, cos[:4], sin[:4])
    with pytest.raises(ValueError, match="contiguous last dimension"):
        rope.apply_rope_(torch.randn(2, 5, 4, 16)[..., ::2], k, cos, sin)
    with pytest.raises(ValueError, match="differ in tokens"):
        rope.apply_rope_(q, k[:1], cos, sin)


def test_verify_rejects_batched_and_misshaped_inputs() -> None:
    logits = torch.randn(4, 10)
    with pytest.raises(ValueError, match="batched verification is not supported"):
        verify.verify_greedy(torch.zeros(2, 3, dtype=torch.long), logits)
    with pytest.raises(ValueError, match="4 rows; expected k\\+1 = 3"):
        verify.verify_greedy(torch.zeros(2, dtype=torch.long), logits)
    with pytest.raises(ValueError, match="vocab sizes differ"):
        verify_sampling.verify_sampling(
            torch.zeros(3, dtype=torch.long), torch.rand(3, 9), torch.rand(4, 10), torch.rand(3)
        )
    with pytest.raises(ValueError, match="uniforms"):
        verify_sampling.verify_sampling(
            torch.zeros(3, dtype=torch.long), torch.rand(3, 10), torch.rand(4, 10), torch.rand(2)
        )


def test_verify_reference_semantics_by_hand() -> None:
    logits = torch.tensor([[0.0, 2.0, 2.0], [5.0, 1.0, 0.0], [0.0, 0.0, 3.0]])
    # Ties go to the lowest index (1), then 0 matches, then the bonus is 2.
    v = verify.verify_greedy_reference(torch.tensor([1, 0]), logits)
    assert (v.accepted_len, v.next_token, v.target_tokens.tolist()) == (2, 2, [1, 0, 2])
    v = verify.verify_greedy_reference(torch.tensor([2, 0]), logits)
    assert (v.accepted_len, v.next_token) == (0, 1)
    q = torch.tensor([[0.5, 0.5, 0.0], [0.2, 0.2, 0.6]])
    p = torch.tensor([[0.25, 0.5, 0.25], [0.6, 0.2, 0.2], [0.0, 1.0, 0.0]])
    # Position 0: x=0, p/q = 0.5, u=0.4 accepts. Position 1: x=2, p/q = 1/3, u=0.5 rejects.
    s = verify_sampling.verify_sampling_reference(
        torch.tensor([0, 2]), q, p, torch.tensor([0.4, 0.5])
    )
    assert s.accepted_len == 1 and s.accepted.tolist() == [True, False]
    torch.testing.assert_close(s.probs, torch.tensor([1.0, 0.0, 0.0]))  # norm(max(p1 - q1, 0))
    s = verify_sampling.verify_sampling_reference(
        torch.tensor([1, 2]), q, p, torch.tensor([0.1, 0.2])
    )
    assert s.accepted_len == 2 and torch.equal(s.probs, p[2])  # all accepted: bonus row
