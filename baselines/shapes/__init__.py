"""baselines/shapes."""
