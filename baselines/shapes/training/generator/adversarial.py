"""An adversarial term for the 1-step student (Hyper-Bagel's 1-NFE stage, ADD/LADD-style).

Regression onto the 6-step student's samples alone makes the 1-step student paint blurred
blends of colours (the calibration note). A small conditional discriminator, trained with
the hinge loss to tell exact renders of the world's scenes (the training data: what a
prompt or instruction should produce) from the student's one-shot samples, adds the
missing "looks like a real scene" gradient. The regression term keeps the noise -> image
map; the adversarial term is scaled against it by the VQGAN-style adaptive weight (ratio
of the two terms' gradient norms on the student's output layer), so one ``--adv-weight``
works whatever the loss scales are.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


class ShapesDiscriminator(nn.Module):
    """Conv discriminator over (image, source image) with projection conditioning on text.

    ``forward(image, source, cond) -> (B,)`` logits; ``image`` and ``source`` are
    ``(B, 3, 32, 32)`` in [-1, 1] (``source`` zeros for text-to-image), ``cond`` the
    ``(B, D)`` pooled prompt vector of the frozen 6-step student's text encoder. Spectral
    norm on every layer keeps the hinge game stable at this size.
    """

    def __init__(self, cond_dim: int, width: int = 32) -> None:
        super().__init__()
        w = width
        layers: list[nn.Module] = []
        for cin, cout, stride in ((6, w, 1), (w, 2 * w, 2), (2 * w, 4 * w, 2), (4 * w, 4 * w, 2)):
            layers += [spectral_norm(nn.Conv2d(cin, cout, 3, stride, 1)), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers)  # 32x32 -> 4x4
        self.head = spectral_norm(nn.Linear(4 * w, 1))
        self.embed = spectral_norm(nn.Linear(cond_dim, 4 * w))

    def forward(
        self, image: torch.Tensor, source: torch.Tensor, cond: torch.Tensor
    ) -> torch.Tensor:
        h = self.features(torch.cat([image, source], dim=1)).sum(dim=(2, 3))
        return self.head(h).squeeze(1) + (self.embed(cond) * h).sum(1)


def discriminator_loss(
    real_logits: torch.Tensor,
    fake_logits: torch.Tensor,
    mismatched_logits: torch.Tensor | None = None,
) -> torch.Tensor:
    """Hinge loss of the discriminator: real above +1, fake below -1.

    With ``mismatched_logits`` (real images scored under another row's condition) the
    negatives are half fakes, half mismatched pairs: the matching-aware discriminator of
    Reed et al. (2016), which must read the prompt to tell a right scene from a wrong one.
    """
    real = F.relu(1.0 - real_logits).mean()
    if mismatched_logits is None:
        return real + F.relu(1.0 + fake_logits).mean()
    return real + 0.5 * (F.relu(1.0 + fake_logits).mean() + F.relu(1.0 + mismatched_logits).mean())


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Hinge loss of the generator: raise the discriminator's score of its samples."""
    return -fake_logits.mean()


def adaptive_weight(
    rec_loss: torch.Tensor, adv_loss: torch.Tensor, layer: torch.Tensor, max_weight: float = 1e3
) -> torch.Tensor:
    """``||grad rec|| / ||grad adv||`` on ``layer`` (detached, clamped to ``[0, max_weight]``).

    Multiplied by a user weight, this sets the adversarial term's share of the update on
    the last layer, independent of the two losses' scales (Esser et al., VQGAN).
    """
    g_rec = torch.autograd.grad(rec_loss, layer, retain_graph=True)[0]
    g_adv = torch.autograd.grad(adv_loss, layer, retain_graph=True)[0]
    ratio = g_rec.norm() / (g_adv.norm() + 1e-8)
    return ratio.clamp(0.0, max_weight).detach()


class AdversarialTerm:
    """The discriminator, its optimizer and the schedule of the generator's adversarial term.

    Per training step: :meth:`discriminator_step` on (real, detached fake), then
    :meth:`generator_term` adds ``weight * adaptive * hinge`` to the student's loss (zero
    before ``start``, so the discriminator gets a head start on a student that is
    already close to its target).
    """

    def __init__(
        self,
        cond_dim: int,
        weight: float,
        start: int,
        lr: float = 2e-4,
        width: int = 32,
        mismatched: bool = False,
    ) -> None:
        self.disc = ShapesDiscriminator(cond_dim, width)
        self.opt = torch.optim.Adam(self.disc.parameters(), lr=lr, betas=(0.0, 0.99))
        self.weight, self.start, self.mismatched = weight, start, mismatched
        self.last: dict[str, float] = {}

    def discriminator_step(
        self, real: torch.Tensor, fake: torch.Tensor, source: torch.Tensor, cond: torch.Tensor
    ) -> None:
        """One hinge update of the discriminator (``fake`` is detached here).

        Mismatched pairs (``mismatched=True``) score each real image under the next row's
        condition (the batch rolled by one).
        """
        self.disc.train().requires_grad_(True)
        wrong = self.disc(real, source, cond.roll(1, 0)) if self.mismatched else None
        loss = discriminator_loss(
            self.disc(real, source, cond), self.disc(fake.detach(), source, cond), wrong
        )
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.last = {"d_loss": float(loss.detach())}

    def generator_term(
        self,
        rec_loss: torch.Tensor,
        fake: torch.Tensor,
        source: torch.Tensor,
        cond: torch.Tensor,
        layer: torch.Tensor,
        step: int,
    ) -> torch.Tensor:
        """The adversarial term to add to ``rec_loss`` at ``step`` (a zero tensor before start)."""
        if step < self.start:
            return rec_loss.new_zeros(())
        self.disc.requires_grad_(False)  # gradients flow through it into the student only
        adv = generator_loss(self.disc(fake, source, cond))
        scale = self.weight * adaptive_weight(rec_loss, adv, layer)
        self.last.update(g_adv=float(adv.detach()), adv_scale=float(scale))
        return scale * adv
