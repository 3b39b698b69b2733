"""Asking a running trainer to save now and stop (preemption, time limit), through two small files.

The launcher's job sets ``HUMANALIGN_SAVE_REQUEST=PATH`` for the processes it starts. On preemption its
checkpoint hook writes ``PATH``; the trainer's main process sees it at the end of the next optimizer
step, every process saves that step together, the main process writes ``PATH.done`` holding the step
and the run stops. The requeued job resumes from that checkpoint with ``--resume`` (bitwise exact).
Files rather than signals: the trainer runs under torchrun, possibly on other nodes, and a file on
the run's shared folder reaches the main rank without touching the collective's signal handlers.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["SAVE_REQUEST_ENV", "SaveRequest"]

logger = logging.getLogger(__name__)

SAVE_REQUEST_ENV = "HUMANALIGN_SAVE_REQUEST"


class SaveRequest:
    """The request file at ``path`` and its acknowledgement ``path.done``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.ack_path = self.path.with_name(self.path.name + ".done")

    @classmethod
    def from_env(cls) -> SaveRequest | None:
        """The request named by ``$HUMANALIGN_SAVE_REQUEST``, or None when not launched by the launcher."""
        value = os.environ.get(SAVE_REQUEST_ENV, "")
        return cls(value) if value else None

    def clear(self) -> None:
        """Remove a stale request and acknowledgement (a new job incarnation starts clean)."""
        for p in (self.path, self.ack_path):
            p.unlink(missing_ok=True)

    def request(self) -> None:
        """Ask the trainer to save at the end of its current step and stop."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(f"{time.time()}\n")

    def pending(self) -> bool:
        """True when a save was asked for and not yet acknowledged."""
        return self.path.exists() and not self.ack_path.exists()

    def acknowledge(self, step: int) -> None:
        """Record that checkpoint ``step`` is written (trainer's main process)."""
        tmp = self.ack_path.with_name(self.ack_path.name + ".tmp")
        tmp.write_text(f"{step}\n")
        tmp.replace(self.ack_path)
        self.path.unlink(missing_ok=True)

    def acknowledged_step(self) -> int | None:
        """The saved step, once acknowledged."""
        try:
            return int(self.ack_path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def wait(self, timeout_s: float, alive: Callable[[], bool] = lambda: True, poll_s: float = 0.2) -> int | None:
        """Wait for the acknowledgement; None if ``alive()`` turns false or ``timeout_s`` passes first."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            step = self.acknowledged_step()
            if step is not None:
                return step
            if not alive():
                return self.acknowledged_step()
            time.sleep(poll_s)
        logger.warning("no save acknowledgement in %s after %.0f s", self.ack_path, timeout_s)
        return None
