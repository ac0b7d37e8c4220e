"""Decoding speed benchmarks over the model-agnostic runtime (``hbench bench``).

:mod:`.spec` is the command (text models; ``--shapes`` hands over to the shapes peer
benchmark in :mod:`hbench.baselines.shapes.training.understanding.bench_peers`),
:mod:`.methods` builds the timed methods, :mod:`.measure` times and summarises them. Kept out
of :mod:`hbench.baselines.runtime`, which imports no model family.
"""
