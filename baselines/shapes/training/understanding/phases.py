"""Step-keyed training phases: one command for a schedule with warm restarts and curricula.

``--phases "78:horizon=1400;574:horizon=900,aux_shape=1.0"`` changes settings at given
steps. A phase changes only the settings it names; the rest carry over from the previous
phase (the first phase starts from the command's flags). Settings:

* ``horizon``: the step at which the cosine learning rate reaches zero;
* ``origin``: the step the warm-up and cosine count from (a fine-tuning phase sets it to its
  own start to warm up again);
* ``lr``, ``warmup``, ``aux_shape``, ``aux_color``, ``caption_frac``, ``vqa_response``.

The learning rate at ``step`` is ``lr_at(step - origin, horizon - origin, lr, warmup)``.
Because data is drawn per step, a resumed run with the same phases sees exactly what an
uninterrupted one would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Settings:
    """Everything a training step reads that a phase may change."""

    horizon: int
    origin: int
    lr: float
    warmup: int
    aux_shape: float
    aux_color: float
    caption_frac: float
    vqa_response: str

    def lr_at(self, step: int) -> float:
        return lr_at(step - self.origin, self.horizon - self.origin, self.lr, self.warmup)


# What --phases may set, and how to parse each value: the fields of Settings.
SETTINGS: dict[str, type] = {
    f.name: {"int": int, "float": float, "str": str}[str(f.type)] for f in fields(Settings)
}


def lr_at(step: int, total: int, peak: float, warmup: int) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine from ``peak`` to 0 at ``total``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))


@dataclass(frozen=True)
class Phase:
    start: int
    changes: dict[str, object]


def parse_phases(text: str, choices: dict[str, tuple[str, ...]] | None = None) -> list[Phase]:
    """Parse ``"START:key=value,...;START:..."``; errors name the phase and the key.

    ``choices`` restricts string settings (e.g. ``vqa_response``) to the allowed values.
    """
    phases: list[Phase] = []
    for i, chunk in enumerate(c.strip() for c in text.split(";") if c.strip()):
        where = f"--phases: phase {i + 1} ({chunk!r})"
        head, sep, body = chunk.partition(":")
        if not sep or not head.strip().isdigit():
            raise ValueError(f"{where}: expected START:key=value,..., START a step number")
        start = int(head)
        if phases and start <= phases[-1].start:
            raise ValueError(f"{where}: start {start} is not after the previous phase's")
        changes: dict[str, object] = {}
        for item in (x.strip() for x in body.split(",") if x.strip()):
            key, eq, value = item.partition("=")
            key = key.strip()
            if not eq or key not in SETTINGS:
                raise ValueError(
                    f"{where}: {item!r} is not key=value with key in {sorted(SETTINGS)}"
                )
            try:
                changes[key] = SETTINGS[key](value.strip())
            except ValueError:
                raise ValueError(
                    f"{where}: {key}={value!r} is not a {SETTINGS[key].__name__}"
                ) from None
            allowed = (choices or {}).get(key)
            if allowed is not None and changes[key] not in allowed:
                raise ValueError(f"{where}: {key}={value!r} is not one of {list(allowed)}")
        phases.append(Phase(start, changes))
    return phases


def check_phases(base: Settings, phases: list[Phase], steps: int) -> None:
    """Raise ``ValueError`` naming the first phase whose cosine would end before it starts."""
    for i, p in enumerate(phases):
        if p.start >= steps:
            raise ValueError(f"--phases: phase {i + 1} starts at {p.start}, after --steps {steps}")
        s = settings_at(p.start, base, phases)
        if s.horizon <= max(s.origin, p.start):
            raise ValueError(
                f"--phases: phase {i + 1} (start {p.start}): horizon {s.horizon} must be after "
                f"its start and origin {s.origin}"
            )


def settings_at(step: int, base: Settings, phases: list[Phase]) -> Settings:
    """The settings in force at ``step``: ``base`` updated by every phase started by then."""
    s = base
    for p in phases:
        if p.start > step:
            break
        s = replace(s, **p.changes)
    return s
