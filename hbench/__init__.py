"""hbench: evaluation harness for accelerated unified multimodal models."""

__version__ = "0.1.0"
