"""``python -m humanalign.launch.agent CMD ...``: run CMD with the preemption signal ignored.

SLURM signals every process of a job step (``--signal=USR2@...``), and USR2's default action ends a
process. Only the submitit task should react (it asks the trainer to save, then requeues), so the
processes it starts (torchrun's agent and its workers, which inherit ignored signals across ``exec``)
run through this wrapper.
"""

from __future__ import annotations

import logging
import os
import signal
import sys

__all__ = ["preempt_signal", "main"]

logger = logging.getLogger(__name__)


def preempt_signal() -> signal.Signals:
    """The signal submitit uses for preemption/timeout (``$SUBMITIT_PREEMPT_SIGNAL``, default USR2)."""
    name = os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2")
    return getattr(signal, f"SIG{name}", signal.SIGUSR2)


def main(argv: list[str] | None = None) -> int:
    """Ignore the preemption signal and ``exec`` the command (never returns unless CMD is missing)."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print("usage: python -m humanalign.launch.agent CMD [ARGS...]", file=sys.stderr)
        return 2
    signal.signal(preempt_signal(), signal.SIG_IGN)
    os.execvp(argv[0], argv)
    return 0  # pragma: no cover - exec does not return


if __name__ == "__main__":
    sys.exit(main())
