"""Entry point for ``python -m hbench`` and ``torchrun -m hbench``."""

from hbench.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
