"""Move tools/mutants/equivalent.txt's keys to where their lines went: ``python -m tools.mutants.follow REV``.

A key names a line by its number, so an edit above it leaves the key on another line (``make mutants-sample``
then stops: a stale entry). REV is a commit at which the entries were right (the last green run's). Each key
whose line at REV is no longer at that number moves to where that exact line is now, when it is there once;
the others are printed for a person to place. Read each moved entry's reason again: the code around it changed.
Run it once per REV, on entries as they were at REV: a key already moved by hand would be moved again.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tools.mutants import EQUIVALENTS

ROOT = EQUIVALENTS.parents[2]

KEY = re.compile(r"^(?P<path>\S+):(?P<line>\d+):(?P<rest>\d+ \S+ ->.*)$")


def follow(rev: str, root: Path = ROOT, path: Path = EQUIVALENTS) -> tuple[list[str], list[str]]:
    """Rewrite ``path``; (moved keys as "old -> new line", keys that could not be placed). ``root``: the
    repository the keys' modules are in."""
    then: dict[str, list[str]] = {}
    moved, unplaced, out = [], [], []
    for entry in path.read_text(encoding="utf-8").splitlines():
        m = KEY.match(entry)
        if not m:
            out.append(entry)
            continue
        module, line = m["path"], int(m["line"])
        if module not in then:
            shown = subprocess.run(["git", "show", f"{rev}:{module}"], cwd=root, capture_output=True, text=True)
            then[module] = shown.stdout.splitlines() if shown.returncode == 0 else []
        now = (root / module).read_text(encoding="utf-8").splitlines()
        was = then[module][line - 1] if line <= len(then[module]) else None
        if was is None or (line <= len(now) and now[line - 1] == was):
            out.append(entry)
            continue
        found = [n for n, text in enumerate(now, 1) if text == was]
        if len(found) == 1:
            moved.append(f"{module}:{line} -> {found[0]}")
            out.append(f"{module}:{found[0]}:{m['rest']}")
        else:
            unplaced.append(f"{entry.split(' ->')[0]} (its line is {'nowhere' if not found else 'there %d times' % len(found)})")
            out.append(entry)
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return moved, unplaced


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tools.mutants.follow REV   (a commit at which equivalent.txt was right)", file=sys.stderr)
        return 2
    moved, unplaced = follow(argv[0])
    for line in moved:
        print(f"moved {line}")
    for line in unplaced:
        print(f"place by hand: {line}")
    return 1 if unplaced else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
