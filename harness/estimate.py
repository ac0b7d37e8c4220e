"""Before a run: the samples per suite and variant, and how long they will take here.

The runner fills a :class:`Plan` after a short calibration: a few samples of every
(suite, variant), spread over the suite's sample list and timed after the suite's warm-up on
this machine, with these weights and parameters. The estimate is the median calibration time
of a sample (a first-call cost in one sample does not dominate) times the samples still to
run; loading, warm-up and scoring come on top of it.
``hbench run CONFIG --dry-run`` prints the plan and stops; ``hbench run`` prints it before
the long part starts.
"""

from __future__ import annotations

from dataclasses import dataclass

# A run longer than this gets a warning before it starts.
LONG_RUN_SECONDS = 3600.0


@dataclass(frozen=True)
class PlanRow:
    """One suite and variant: samples in total, already done, and measured seconds each.

    ``seconds`` is None when no sample could be timed (nothing left to run, or every
    calibration sample failed).
    """

    suite: str
    variant: str
    total: int
    done: int
    seconds: float | None
    calibrated: int = 0  # samples the calibration recorded (a real run keeps them; a dry run not)

    @property
    def remaining(self) -> int:
        """Samples still to run after the calibration."""
        return self.total - self.done - self.calibrated

    @property
    def estimate(self) -> float | None:
        """Seconds for the remaining samples (None: not measured)."""
        if self.remaining <= 0:
            return 0.0
        return None if self.seconds is None else self.seconds * self.remaining


@dataclass(frozen=True)
class Plan:
    """Every (suite, variant) of a run, in run order, with the calibration's cost."""

    rows: tuple[PlanRow, ...]
    timed: int = 0  # samples the calibration timed
    calibration_seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(r.total for r in self.rows)

    @property
    def done(self) -> int:
        return sum(r.done for r in self.rows)

    @property
    def estimate(self) -> float:
        """Seconds for every remaining sample that could be timed."""
        return sum(r.estimate or 0.0 for r in self.rows)

    @property
    def unmeasured(self) -> tuple[PlanRow, ...]:
        return tuple(r for r in self.rows if r.estimate is None)

    def resume_line(self) -> str:
        """``resuming: N of M samples done``."""
        return f"resuming: {self.done} of {self.total} samples done"

    def text(self) -> str:
        """The per-suite table, the total and (for long runs) a warning; ends with a newline."""
        header = ("suite", "variant", "samples", "done", "s/sample", "estimate")
        body = [
            (
                r.suite,
                r.variant,
                str(r.total),
                str(r.done + r.calibrated),
                "–" if r.seconds is None else format_seconds(r.seconds),
                "–" if r.estimate is None else format_duration(r.estimate),
            )
            for r in self.rows
        ]
        widths = [max(len(row[i]) for row in (header, *body)) for i in range(len(header))]
        align = ("<", "<", ">", ">", ">", ">")
        lines = [
            "  ".join(f"{cell:{a}{w}}" for cell, a, w in zip(row, align, widths, strict=True))
            for row in (header, *body)
        ]
        remaining = sum(max(r.remaining, 0) for r in self.rows)
        lines.append(
            f"estimated time: {format_duration(self.estimate)} for {remaining} of {self.total} "
            f"samples (from {self.timed} samples timed in "
            f"{format_duration(self.calibration_seconds)}; loading, warm-up and scoring add to it)"
        )
        if self.unmeasured:
            names = ", ".join(f"{r.suite}/{r.variant}" for r in self.unmeasured)
            lines.append(f"not timed (every calibration sample failed): {names}")
        if self.estimate >= LONG_RUN_SECONDS:
            lines.append(
                f"warning: this config runs for more than an hour ({format_duration(self.estimate)}"
                " of samples); --limit N runs the first N samples of each suite, --dry-run only "
                "estimates"
            )
        return "\n".join(lines) + "\n"


def format_seconds(seconds: float) -> str:
    """A per-sample time: ``12.3 ms`` or ``1.23 s``.

    >>> format_seconds(0.0123), format_seconds(1.234)
    ('12.3 ms', '1.23 s')
    """
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def format_duration(seconds: float) -> str:
    """A whole run's time: ``45 s``, ``3 min 20 s``, ``4 h 05 min``.

    >>> format_duration(44.6), format_duration(200), format_duration(4 * 3600 + 300)
    ('45 s', '3 min 20 s', '4 h 05 min')
    """
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"
