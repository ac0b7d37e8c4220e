"""Training, distillation, monitor and speed bench of the shapes generator (``python -m`` commands)."""
