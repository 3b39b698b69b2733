"""Where the suite reads and writes by default: one place for every path default and its variable.

- results store: ``$HUMANALIGN_RESULTS`` if set, else ``results/humanalign.sqlite`` (relative to the
  working directory); every command's ``--results`` defaults to :func:`default_results_path`.
- shared human and brain data: ``$HUMANALIGN_SHARED_DATA`` if set, else ``<repo>/../shared/data``.
- caches (features, video indexes): ``$HUMANALIGN_CACHE`` if set, else ``~/.cache/humanalign``; the
  older name ``$HUMANALIGN_CACHE_DIR`` is still read (with a warning) when ``HUMANALIGN_CACHE`` is unset.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

__all__ = ["default_results_path", "shared_data_root", "cache_root", "REPO_ROOT"]

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]


def default_results_path() -> Path:
    """The results store every command uses unless ``--results`` says otherwise."""
    env = os.environ.get("HUMANALIGN_RESULTS")
    return Path(env).expanduser() if env else Path("results") / "humanalign.sqlite"


def shared_data_root() -> Path:
    """``$HUMANALIGN_SHARED_DATA`` if set, else ``<repo>/../shared/data`` (the real data sets' default home)."""
    env = os.environ.get("HUMANALIGN_SHARED_DATA")
    return Path(env).expanduser() if env else REPO_ROOT.parent / "shared" / "data"


def cache_root() -> Path:
    """Root of every on-disk cache: ``$HUMANALIGN_CACHE``, else ``~/.cache/humanalign``."""
    env = os.environ.get("HUMANALIGN_CACHE")
    if env:
        return Path(env).expanduser()
    legacy = os.environ.get("HUMANALIGN_CACHE_DIR")
    if legacy:
        logger.warning("HUMANALIGN_CACHE_DIR is deprecated; set HUMANALIGN_CACHE instead (using %s)", legacy)
        return Path(legacy).expanduser()
    return Path.home() / ".cache" / "humanalign"
