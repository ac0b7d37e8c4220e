"""One optimizer step and the warm-up cosine learning rate, shared by every training loop.

The loops of the hf and shapes EAGLE heads and the shapes generator and understanding
models differ in data and loss, not in how a step is taken: set the rate, zero the
gradients, back-propagate, clip the gradient norm, step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch


def optimizer_step(
    opt: torch.optim.Optimizer,
    loss: torch.Tensor,
    params: Iterable[torch.nn.Parameter],
    lr: float,
    max_norm: float = 1.0,
) -> None:
    """Set every group's learning rate to ``lr``, then backward ``loss``, clip, step."""
    for group in opt.param_groups:
        group["lr"] = lr
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, max_norm)
    opt.step()


def warmup_cosine(step: int, total: int, base: float, warmup: int) -> float:
    """Linear warm-up over ``warmup`` steps times a cosine from ``base`` to 0 at ``total``.

    >>> warmup_cosine(0, 100, 1.0, 10)
    0.1
    >>> warmup_cosine(100, 100, 1.0, 10)
    0.0
    """
    warm = min(1.0, (step + 1) / warmup)
    return base * warm * 0.5 * (1 + math.cos(math.pi * min(1.0, step / total)))
