"""How the shapes models are made and measured outside a run: training, distillation, the
training monitor, weight export and peer benchmarks. The systems in
:mod:`hbench.baselines.shapes` never import this package; it imports them.
"""
