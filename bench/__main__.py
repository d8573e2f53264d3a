"""``python -m bench``: run the whole benchmark suite."""
from __future__ import annotations

from bench.run import main

if __name__ == "__main__":  # the simulator's spawn child re-imports this module: do not re-run
    raise SystemExit(main())
