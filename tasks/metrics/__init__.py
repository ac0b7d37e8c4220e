"""Image-quality and human-preference metrics: a post-pass over a run's images.

Every metric runs on every variant's images of the chosen suites (same prompts, same
seeds), after all samples are recorded, so metric time never counts in timing. Per-sample
metrics (HPSv2, PickScore, CLIPScore, aesthetic, the shapes-world palette and edge
measures) get paired deltas with bootstrap intervals through the generic comparison of
scores.json; distribution metrics (FID, KID) are per-variant set values against a
reference image folder, with a paired-bootstrap interval of their difference.

Modules: ``base`` (the interface and checkpoint helpers), ``models`` (offline open_clip
and transformers CLIP loading), ``preference`` (HPSv2, PickScore), ``clipscore``,
``aesthetic``, ``distribution`` (FID, KID), ``shapes_quality`` (exact, no weights),
``summary`` (a text table from scores.json) and ``cli`` (``hbench metrics``).
"""
