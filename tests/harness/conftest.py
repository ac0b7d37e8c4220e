"""Fixtures for harness tests: a small real suite over the shapes oracle."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from hbench.harness import plugins
from hbench.harness.suite import Item, SampleResult, Suite, sample_seed
from hbench.harness.system import GENERATE
from hbench.worlds.shapes import COLORS, SHAPES


@dataclass(frozen=True)
class CountConfig:
    """Parameters of the fixture suite."""

    samples: int = 8
    fail_sample: int = -1  # index of a sample whose prompt is unparseable (error record)


class ShapesCountSuite(Suite):
    """Generate "a photo of a <colour> <shape>" and check the object with the detector."""

    name = "shapes-count"
    capability = GENERATE
    Config = CountConfig
    primary_metric = "correct"

    def items(self, run_seed: int) -> list[Item]:
        out = []
        for i in range(self.config.samples):
            sample = f"{i:05d}"
            prompt = f"a photo of a {COLORS[i % len(COLORS)]} {SHAPES[i % len(SHAPES)]}"
            if i == self.config.fail_sample:
                prompt = "a drawing of nothing"
            out.append(Item(sample, sample_seed(run_seed, self.name, sample), {"prompt": prompt}))
        return out

    def infer(self, system, item):
        return system.generate(item.data["prompt"], item.seed)

    def evaluate(self, item, output, artifacts):
        from hbench.worlds.shapes import detect

        path = artifacts.save_image(item, output)
        dets = detect(np.asarray(output))
        words = item.data["prompt"].split()
        ok = any(d.color == words[-2] for d in dets[words[-1]])
        return SampleResult({"image": path, "prompt": item.data["prompt"]}, {"correct": float(ok)})

    def summarize(self, records):
        return {"accuracy": float(np.mean([r["metrics"]["correct"] for r in records]))}


@pytest.fixture
def count_suite():
    """Register the fixture suite for one test."""
    plugins.SUITES.add("shapes-count", ShapesCountSuite, "test fixture")
    yield ShapesCountSuite
    plugins.SUITES._entries.pop("shapes-count")
    plugins.SUITES._help.pop("shapes-count")
