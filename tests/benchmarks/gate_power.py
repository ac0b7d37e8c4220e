"""Measure the shipped shapes gate's timing claims: false alarms and power (issue #22).

    python tests/benchmarks/gate_power.py --trials 20 --out /tmp/power            # false alarms
    python tests/benchmarks/gate_power.py --trials 20 --plant 0.3 --out /tmp/power # power

Each trial is a fresh latency run of the demo (the demo config's ``latency`` suite, one torch
thread) gated with the latency claims of ``claims/shapes.yaml`` under ``--measure`` (blocks are
added until every sequential claim decides or reaches the cap). While the trials run, a
separate busy-loop process keeps another core busy (``--no-busy`` to skip). With ``--plant F``
the ``spec`` variant's system calls take ``1 + F`` times as long (tests/benchmarks/slow_family.py)
and the spec timing claim must fail. Prints one line per trial and a JSON summary: per timing
claim, the counts of pass / fail / inconclusive and the estimates with their intervals.

A benchmark, not a test: its outcome depends on the machine, so CI never runs it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from slow_family import slow_family  # noqa: E402

from hbench.cli import main as hbench_main  # noqa: E402
from hbench.harness import plugins  # noqa: E402
from hbench.harness.claims import load_claims  # noqa: E402
from hbench.harness.gate import check_claims  # noqa: E402
from hbench.harness.gate_measure import measure_until_decided  # noqa: E402

BUSY = "while True: pass"


def trial_config(family: str, workloads: list[str] | None, claimed: set[str]) -> str:
    """The demo's latency suite on ``family``, as a config text: only ``workloads`` if given,
    and only the reference and the ``claimed`` variants."""
    demo = yaml.safe_load((ROOT / "hbench" / "demo.yaml").read_text())
    latency = demo["suites"]["latency"]
    if workloads:
        latency["workloads"] = workloads
    latency["variants"] = [v for v in latency["variants"] if v == "baseline" or v in claimed]
    demo["system"]["family"] = family
    demo["system"]["variants"] = list(latency["variants"])
    demo["suites"] = {"latency": latency}
    demo.pop("metrics", None)
    return yaml.safe_dump(demo, sort_keys=False)


def latency_claims(path: Path, out: Path, workloads: list[str] | None = None) -> Path:
    """The claims of ``path`` about the latency suite (and ``workloads``), written to ``out``."""
    data = yaml.safe_load(path.read_text())
    data["claims"] = [c for c in data["claims"] if c.get("suite") == "latency"
                      and (not workloads or c.get("workload") in workloads)]  # fmt: skip
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--plant", type=float, default=0.0, help="slow spec down by this fraction")
    ap.add_argument("--claims", type=Path, default=ROOT / "claims" / "shapes.yaml")
    ap.add_argument("--out", type=Path, default=None, help="keep the runs here (default: temp)")
    ap.add_argument("--workloads", nargs="+", default=None,
                    help="latency workloads to run (default: the demo's); claims follow")  # fmt: skip
    ap.add_argument("--no-busy", action="store_true", help="do not start the busy process")
    args = ap.parse_args(argv)
    family = "shapes"
    if args.plant:
        family = f"shapes-slow{round(args.plant * 100)}"
        plugins.SYSTEMS.add(family, slow_family("spec", args.plant), "test plugin: slowed spec")
    out = args.out or Path(tempfile.mkdtemp(prefix="gate-power-"))
    out.mkdir(parents=True, exist_ok=True)
    claims = load_claims(latency_claims(args.claims, out / "claims-latency.yaml", args.workloads))
    config = out / f"{family}.yaml"
    config.write_text(trial_config(family, args.workloads, {c.variant for c in claims.claims}))
    busy = None if args.no_busy else subprocess.Popen([sys.executable, "-c", BUSY])
    tally: dict[str, Counter] = defaultdict(Counter)
    estimates: dict[str, list] = defaultdict(list)
    try:
        for k in range(args.trials):
            run = out / f"{family}-{k:02d}"
            t0 = time.time()
            if hbench_main(["run", str(config), "--out", str(run), "--quiet"]) != 0:
                raise SystemExit(f"trial {k}: the run failed ({run})")
            results = measure_until_decided(claims, run, check_claims, str(config))
            line = []
            for r in results:
                if r.claim.check != "speedup":
                    assert r.status == "pass", f"trial {k}: counter claim {r.line()}"
                    continue
                name = f"{r.claim.label} >= {r.claim.value}"
                tally[name][r.status] += 1
                m = r.measurement
                estimates[name].append(
                    [round(m.estimate, 3), round(m.low, 3), round(m.high, 3), m.interval]
                )
                line.append(f"{name}: {r.status} {m.estimate:.2f} [{m.low:.2f}, {m.high:.2f}]")
            print(f"trial {k:2d} ({time.time() - t0:5.0f} s): " + "; ".join(line), flush=True)
    finally:
        if busy is not None:
            busy.kill()
    summary = {"plant": args.plant, "trials": args.trials, "busy_process": busy is not None,
               "tally": {k: dict(v) for k, v in tally.items()}, "estimates": estimates}  # fmt: skip
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary["tally"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
