"""Judges of edited images, registered in :data:`hbench.harness.plugins.JUDGES`."""

from .base import ChatJudge, Judge, JudgeError, JudgeInput, JudgeScores, make_judge

__all__ = ["ChatJudge", "Judge", "JudgeError", "JudgeInput", "JudgeScores", "make_judge"]
