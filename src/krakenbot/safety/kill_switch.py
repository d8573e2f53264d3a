"""The kill switch: a command and a file flag that stop all new orders at once.

Why a file as well as a command: the operator may not be able to reach the running
process (another terminal, another machine on a shared disk, a hung loop). Creating the
file halts the bot at its next order attempt; it is checked before every order, and
``resume()`` is refused while the file exists, so the file is the stronger switch.
"""
from __future__ import annotations

import os
from pathlib import Path


class KillSwitchEngaged(RuntimeError):
    """Raised by ``release()`` while the kill file still exists."""


class KillSwitch:
    def __init__(self, file_path: str | Path | None, clock) -> None:
        self.file_path = Path(file_path) if file_path else None
        self._file = str(self.file_path) if self.file_path else None
        self._clock = clock
        self._reason: str | None = None
        self.engaged_at: float | None = None

    def file_present(self) -> bool:
        # Checked before every order: no pathlib, and access() answers "absent" without the exception
        # os.path.exists raises and catches inside (the common case).
        return self._file is not None and os.access(self._file, os.F_OK)

    def file_reason(self) -> str | None:
        if not self.file_present():
            return None
        try:
            text = self.file_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()  # type: ignore[union-attr]
        except OSError:
            text = []
        detail = f": {text[0][:200]}" if text and text[0] else ""
        return f"kill file {self.file_path} exists{detail}"

    @property
    def engaged_by_command(self) -> bool:
        return self._reason is not None

    @property
    def engaged(self) -> bool:
        return self._reason is not None or self.file_present()

    @property
    def reason(self) -> str | None:
        """Why trading is stopped (command first, then file), or None."""
        if self._reason is not None:
            return self._reason
        return self.file_reason()

    def engage(self, reason: str) -> None:
        self._reason = reason or "kill switch"
        self.engaged_at = self._clock.time()

    def release(self) -> None:
        if self.file_present():
            raise KillSwitchEngaged(f"resume refused: kill file {self.file_path} exists; remove it first")
        self._reason = None
        self.engaged_at = None

    def write_file(self, reason: str, kill_id: str | None = None) -> Path:
        """What ``krakenbot kill`` does: leave a flag every running bot will see. ``kill_id`` (second
        line) is what the running bot writes back to say it has seen this very file."""
        if self.file_path is None:
            raise KillSwitchEngaged("no KILL_SWITCH_FILE configured")
        self.file_path.parent.mkdir(parents=True, exist_ok=True)
        reason = " ".join(str(reason).split()) or "kill switch"
        self.file_path.write_text(f"{reason}\n" + (f"kill-id {kill_id}\n" if kill_id else ""), encoding="utf-8")
        return self.file_path

    def file_kill_id(self) -> str | None:
        """The ``kill-id`` line of the kill file, if it has one."""
        if not self.file_present():
            return None
        try:
            lines = self.file_path.read_text(encoding="utf-8", errors="replace").splitlines()  # type: ignore[union-attr]
        except OSError:
            return None
        return next((line.split(None, 1)[1].strip() for line in lines[1:] if line.startswith("kill-id ")), None)
