"""The ``bagel`` family: BAGEL from a local checkout of its official code and local weights.

==========  ===================================================================================
variant     what runs
==========  ===================================================================================
baseline    BAGEL as its eval scripts run it: greedy ``chat`` decoding; 50-point shifted flow
            schedule with the GenEval (T2I) / GEdit (edit) CFG settings, one call per branch
kernels     baseline + hbench's fused kernels (RMSNorm, CFG combine, greedy verification)
spec        chain speculative decoding with an EAGLE-style head (``options.head``)
nfe6        distilled 6-NFE generator weights (``options.nfe6``), guidance folded in
nfe1        distilled 1-NFE generator weights (``options.nfe1``)
==========  ===================================================================================

``build`` checks the config and every path (one-line errors naming the key) and imports no
BAGEL code; ``load`` imports the checkout (see docs/bagel.md).
"""

from __future__ import annotations

from typing import Any, ClassVar

from .options import VARIANTS, BagelOptions
from .system import BagelSystem


class BagelFamily:
    """Registry entry ``bagel``."""

    name: ClassVar[str] = "bagel"
    variants: ClassVar[dict[str, str]] = VARIANTS
    reference: ClassVar[str] = "baseline"
    Options: ClassVar[type] = BagelOptions

    @classmethod
    def build(cls, variant: str, options: BagelOptions) -> BagelSystem:
        """Construct (not load) ``variant``; raises on a missing checkout, weights or file."""
        return BagelSystem(variant, options)

    @classmethod
    def required_paths(cls, variant: str, options: BagelOptions) -> list[Any]:
        """Every path ``variant`` reads, for ``hbench run --check`` (all reported at once)."""
        from hbench.harness.paths import RequiredPath

        from .checkout import CHECKOUT_FILES, WEIGHT_FILES

        key = "system.options"
        out = [
            RequiredPath(f"{key}.checkout", options.checkout, "BAGEL checkout", CHECKOUT_FILES),
            RequiredPath(f"{key}.weights", options.weights, "BAGEL weights folder", WEIGHT_FILES),
        ]
        if variant == "spec" and options.head:
            out.append(RequiredPath(f"{key}.head", options.head, "draft head"))
        if variant in ("nfe6", "nfe1"):
            d = getattr(options, variant)
            if d.weights:
                out.append(
                    RequiredPath(
                        f"{key}.{variant}.weights", d.weights, "distilled generator weights"
                    )
                )
        return out
