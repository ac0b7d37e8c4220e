"""Training, export and peer benchmarks of the shapes understanding models (``python -m`` commands)."""
