"""GenEval's conventions that suites and system training share: the relative-position rule."""

from .position import relative_position

__all__ = ["relative_position"]
