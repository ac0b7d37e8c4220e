"""The latency / NFE profiling suite (registry name ``latency``)."""

from .suite import LatencyConfig, LatencySuite, Timed

__all__ = ["LatencyConfig", "LatencySuite", "Timed"]
