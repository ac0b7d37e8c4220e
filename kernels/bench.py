"""``hbench kernels bench`` / ``hbench kernels check``: kernel timing and correctness.

On CUDA, ``bench`` first checks each kernel against its reference at the benchmark shape,
then times three implementations per shape with ``triton.testing.do_bench`` (median and
20th/80th percentiles, L2 flushed between calls): the Triton kernel, the eager PyTorch
reference and ``torch.compile`` of that reference. It reports achieved GB/s (minimum bytes
moved / median time) against the device's measured copy bandwidth, prints a table and
writes a run directory: ``manifest.json``, ``kernels.json`` (the table) and
``records.jsonl`` (one record per row, in the run-store format).

Without CUDA it runs the correctness grid under the Triton interpreter (in a child process
when Triton was already imported without it) and says that timing needs a GPU.
``--self-test`` runs the timing pipeline itself on CPU with tiny shapes under the
interpreter and a wall-clock timer: it proves the code path, its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, is_dataclass

import torch

from . import _triton, checks, dispatch
from .bench_cases import BenchCase, Prepared, bagel_cases, tiny_cases
from .bench_store import cuda_info, manifest, now, open_run, write_json, write_records

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
IMPLS = ("triton", "eager", "compile")
NO_GPU_MESSAGE = (
    "Timing needs a CUDA GPU: none is available here, so only the correctness checks ran "
    "(Triton kernels under TRITON_INTERPRET=1 against their PyTorch references)."
)
Timer = Callable[[Callable[[], object]], tuple[float, float, float]]


# ---- timers -------------------------------------------------------------------------------


def cuda_timer(warmup_ms: int, rep_ms: int) -> Timer:
    """``triton.testing.do_bench``: (median, p20, p80) in ms."""
    from triton.testing import do_bench

    def timer(fn: Callable[[], object]) -> tuple[float, float, float]:
        med, p20, p80 = do_bench(fn, warmup=warmup_ms, rep=rep_ms, quantiles=[0.5, 0.2, 0.8])
        return float(med), float(p20), float(p80)

    return timer


def wall_timer(repeats: int = 3) -> Timer:
    """Wall clock after one untimed call (the CPU self-test only)."""

    def timer(fn: Callable[[], object]) -> tuple[float, float, float]:
        fn()
        ms = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            ms.append((time.perf_counter() - t0) * 1e3)
        q = statistics.quantiles(ms, n=5, method="inclusive") if len(ms) > 1 else ms * 4
        return statistics.median(ms), q[0], q[3]

    return timer


def copy_bandwidth_gbps(device: str, timer: Timer, nbytes: int) -> float:
    """Device-to-device copy bandwidth (read + write bytes / median time)."""
    src = torch.empty(nbytes, dtype=torch.uint8, device=device).random_(0, 255)
    dst = torch.empty_like(src)
    med, _, _ = timer(lambda: dst.copy_(src))
    return 2 * nbytes / (med * 1e-3) / 1e9


# ---- correctness at a benchmark shape -------------------------------------------------------


def _flatten(result: object) -> list[tuple[str, object]]:
    if isinstance(result, torch.Tensor):
        return [("out", result)]
    if isinstance(result, tuple):
        return [(f"out{i}", r) for i, r in enumerate(result)]
    if is_dataclass(result):
        return [(k, getattr(result, k)) for k in asdict(result)]
    raise TypeError(f"cannot compare a {type(result).__name__}")


def check_prepared(prep: Prepared) -> tuple[bool, float, str]:
    """Run the forced-Triton op and the reference on the same inputs; compare every output."""
    with dispatch.use_backend("triton"):
        got = prep.op(*prep.fresh_args(), **prep.kwargs)
    want = prep.reference(*prep.fresh_args(), **prep.kwargs)
    results = []
    for (name, g), (_, w) in zip(_flatten(got), _flatten(want), strict=True):
        if isinstance(w, torch.Tensor) and w.is_floating_point():
            results.append(checks.compare(name, g, w, w.dtype))
        elif isinstance(w, float):  # e.g. the residual mass: a float32 sum, order-dependent
            ok = abs(g - w) <= 1e-5 + 1e-5 * abs(w)
            results.append((ok, abs(g - w), "" if ok else f"{name}: {g} vs {w}"))
        else:
            results.append(checks._exact(name, g, w))
    return checks._merge(*results)


# ---- timing ---------------------------------------------------------------------------------


def _impl_fn(impl: str, prep: Prepared) -> Callable[[], object]:
    if impl == "triton":
        return lambda: prep.op(*prep.args, **prep.kwargs)
    if impl == "eager":
        return lambda: prep.reference(*prep.args, **prep.kwargs)
    torch._dynamo.reset()  # a fresh cache per shape: never time a silent eager fallback
    compiled = torch.compile(prep.reference, dynamic=False)
    compiled(*prep.args, **prep.kwargs)  # compile outside the timed region
    return lambda: compiled(*prep.args, **prep.kwargs)


def time_case(
    case: BenchCase, prep: Prepared, timer: Timer, impls: tuple[str, ...], copy_gbps: float
) -> list[dict]:
    """Time each implementation of one prepared case; a failing implementation is a row with its error."""
    rows = []
    for impl in impls:
        row = {
            "op": case.op,
            "shape": case.label,
            "impl": impl,
            "bytes_min": prep.bytes_min,
            "bytes_kernel": prep.bytes_kernel or prep.bytes_min,
            "error": None,
        }
        try:
            with dispatch.use_backend("triton" if impl == "triton" else "reference"):
                med, p20, p80 = timer(_impl_fn(impl, prep))
        except Exception as err:  # noqa: BLE001 - recorded in the table, never hidden
            row.update(
                ms_median=None,
                ms_p20=None,
                ms_p80=None,
                gbps=None,
                pct_of_copy=None,
                error=f"{type(err).__name__}: {str(err)[:500]}",
            )
            rows.append(row)
            continue
        gbps = prep.bytes_min / (med * 1e-3) / 1e9
        row.update(
            ms_median=med, ms_p20=p20, ms_p80=p80, gbps=gbps, pct_of_copy=100 * gbps / copy_gbps
        )
        rows.append(row)
    eager = next((r["ms_median"] for r in rows if r["impl"] == "eager"), None)
    for r in rows:
        r["speedup_vs_eager"] = eager / r["ms_median"] if eager and r["ms_median"] else None
    return rows


# ---- correctness grid ---------------------------------------------------------------------


def run_check_grid(seed: int, ops: list[str] | None) -> dict:
    """Run kernels/checks.py's grid: in this process if it can interpret, else in a child.

    Returns:
        ``{"device", "seed", "where", "results": [{"case", "ok", "max_abs_err", "detail"}]}``.
    """
    ops = sorted({"rmsnorm" if o == "fused_add_rmsnorm" else o for o in ops}) if ops else [None]
    if torch.cuda.is_available() and not _triton.interpreter_requested():
        results = [r for op in ops for r in checks.run_all(seed, "cuda", op)]
        return {
            "device": "cuda",
            "seed": seed,
            "where": "in-process",
            "results": [r.to_json() for r in results],
        }
    if _triton.interpreter_ready():
        results = [r for op in ops for r in checks.run_all(seed, "cpu", op)]
        return {
            "device": "cpu",
            "seed": seed,
            "where": "in-process",
            "results": [r.to_json() for r in results],
        }
    # Triton was imported without the interpreter: a fresh interpreter-mode process.
    cmd = [sys.executable, "-m", "hbench.kernels.checks", "--seed", str(seed)]
    if ops != [None]:
        cmd += ["--ops", ",".join(ops)]
    env = dict(os.environ, TRITON_INTERPRET="1", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    try:
        data = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError) as err:
        raise RuntimeError(
            f"checks child process failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
        ) from err
    if "error" in data:
        raise RuntimeError(f"checks child process: {data['error']}")
    data["where"] = "child process (TRITON_INTERPRET=1)"
    return data


def _summarise_checks(data: dict) -> tuple[bool, list[str]]:
    by_op: dict[str, list[dict]] = {}
    for r in data["results"]:
        by_op.setdefault(r["case"].split("[")[0], []).append(r)
    lines = []
    for op, rs in sorted(by_op.items()):
        n_ok = sum(r["ok"] for r in rs)
        lines.append(f"  {op:<18} {n_ok}/{len(rs)} cases match the reference")
        lines += [f"    FAIL {r['case']}: {r['detail']}" for r in rs if not r["ok"]]
    ok = bool(data["results"]) and all(r["ok"] for r in data["results"])
    return ok, lines


# ---- commands -----------------------------------------------------------------------------


def _table(rows: list[dict]) -> str:
    head = f"{'op':<18} {'shape':<36} {'impl':<8} {'median ms':>10} {'GB/s':>8} {'% copy':>7} {'vs eager':>9}"
    out = [head, "-" * len(head)]
    for r in rows:
        if r["error"]:
            out.append(f"{r['op']:<18} {r['shape']:<36} {r['impl']:<8} error: {r['error'][:60]}")
            continue
        sp = f"{r['speedup_vs_eager']:.2f}x" if r.get("speedup_vs_eager") else "-"
        out.append(
            f"{r['op']:<18} {r['shape']:<36} {r['impl']:<8} {r['ms_median']:>10.4f} "
            f"{r['gbps']:>8.1f} {r['pct_of_copy']:>6.1f}% {sp:>9}"
        )
    return "\n".join(out)


def cmd_check(args: argparse.Namespace, argv: list[str]) -> int:
    """Correctness grid only (CUDA if present, else the interpreter)."""
    data = run_check_grid(args.seed, args.ops)
    ok, lines = _summarise_checks(data)
    print(f"kernel checks on {data['device']} ({data['where']}), seed {data['seed']}:")
    print("\n".join(lines))
    return 0 if ok else 1


def cmd_bench(args: argparse.Namespace, argv: list[str]) -> int:
    """Time the kernels on CUDA (or self-test the pipeline); without CUDA, check and say so."""
    started = now()
    timing = torch.cuda.is_available() or args.self_test
    if torch.cuda.is_available() and _triton.interpreter_requested() and not args.self_test:
        print(
            "hbench kernels bench: TRITON_INTERPRET is set; unset it to time kernels on the GPU",
            file=sys.stderr,
        )
        return 2
    if args.self_test and not _triton.interpreter_ready():
        print(
            "hbench kernels bench --self-test: run with TRITON_INTERPRET=1 set before Python "
            "starts (the interpreter runs the kernels on CPU)",
            file=sys.stderr,
        )
        return 2
    try:
        run = open_run(args.out)
    except FileExistsError as err:
        print(f"hbench: error: {err}", file=sys.stderr)  # kernels import no hbench layer
        return 2
    dispatch.reset_report()
    if not timing:
        data = run_check_grid(args.seed, args.ops)
        ok, lines = _summarise_checks(data)
        print(NO_GPU_MESSAGE)
        print("\n".join(lines))
        table = {"timing": None, "reason": NO_GPU_MESSAGE, "checks": data}
        rows: list[dict] = []
    else:
        ok, rows, table = _time_all(args)
        print(_table(rows))
    man = manifest(
        args, argv, "cuda" if torch.cuda.is_available() and not args.self_test else "cpu", started
    )
    write_json(run / "kernels.json", table)
    write_records(run, rows)
    man["finished"] = now()
    man["kernels"] = dispatch.report()
    write_json(run / "manifest.json", man)
    print(f"wrote {run}")
    return 0 if ok else 1


def _time_all(args: argparse.Namespace) -> tuple[bool, list[dict], dict]:
    device = "cpu" if args.self_test else "cuda"
    dtype = DTYPES[args.dtype]
    timer = wall_timer() if args.self_test else cuda_timer(args.warmup, args.rep)
    copy_gbps = copy_bandwidth_gbps(device, timer, (8 if args.self_test else 1024) * 2**20)
    impls = tuple(i for i in IMPLS if not (i == "compile" and args.no_compile))
    cases = [
        c
        for c in (tiny_cases() if args.self_test else bagel_cases())
        if not args.ops or c.op in args.ops
    ]
    rows, all_ok = [], True
    for case in cases:
        prep = case.build(device, dtype, torch.Generator().manual_seed(args.seed))
        ok, err, detail = check_prepared(prep)
        all_ok &= ok
        case_rows = time_case(case, prep, timer, impls, copy_gbps)
        for r in case_rows:
            r.update(
                check_ok=ok,
                check_max_abs_err=err if err != float("inf") else None,
                check_detail=detail,
            )
        rows += case_rows
        del prep
        if device == "cuda":
            torch.cuda.empty_cache()
    table = {
        "timing": "triton.testing.do_bench median (L2 flushed)"
        if not args.self_test
        else "SELF-TEST: wall clock of the Triton interpreter on CPU; not a performance number",
        "self_test": args.self_test,
        "device": cuda_info(),
        "dtype": args.dtype,
        "copy_bandwidth_gbps": copy_gbps,
        "rows": rows,
    }
    return all_ok, rows, table


def build_parser() -> argparse.ArgumentParser:
    """``hbench kernels {bench,check}``."""
    parser = argparse.ArgumentParser(prog="hbench kernels", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ops = ",".join(checks.CHECKS) + ",fused_add_rmsnorm"

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--ops",
            type=lambda s: [o for o in s.split(",") if o],
            default=None,
            help=f"comma-separated subset of: {ops}",
        )
        p.add_argument("--seed", type=int, default=0)

    b = sub.add_parser(
        "bench",
        help="time kernels vs eager and torch.compile (CUDA); checks only on CPU",
        description="Example: hbench kernels bench --out runs/kernels-h100 --dtype bf16",
    )
    common(b)
    b.add_argument("--out", help="run directory (default runs/kernels-<UTC time>)")
    b.add_argument("--dtype", choices=sorted(DTYPES), default="bf16")
    b.add_argument("--warmup", type=int, default=25, help="do_bench warm-up time, ms")
    b.add_argument("--rep", type=int, default=100, help="do_bench measuring time, ms")
    b.add_argument("--no-compile", action="store_true", help="skip the torch.compile baseline")
    b.add_argument(
        "--self-test",
        action="store_true",
        help="run the timing pipeline on CPU (tiny shapes, interpreter): proves code, not speed",
    )
    b.set_defaults(func=cmd_bench)
    c = sub.add_parser("check", help="kernel-vs-reference correctness grid")
    common(c)
    c.set_defaults(func=cmd_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``hbench kernels ...`` (argv without the ``kernels`` word)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    known = set(checks.CHECKS) | {"fused_add_rmsnorm"}
    unknown = sorted(set(args.ops or []) - known)
    if unknown:
        print(
            f"hbench kernels: unknown op(s) {', '.join(unknown)}. Available: {', '.join(sorted(known))}",
            file=sys.stderr,
        )
        return 2
    return args.func(args, argv)


if __name__ == "__main__":
    raise SystemExit(main())
