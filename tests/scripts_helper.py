"""Import a runnable script of the repository (experiments/, analysis/) as a module, for tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]


def load_script(relative_path: str) -> ModuleType:
    """The script at ``REPO / relative_path`` as a fresh module named after its path (e.g. ``experiments_rsa``).

    The module is registered in ``sys.modules`` before it runs: dataclasses resolve annotations there.
    """
    path = REPO / relative_path
    name = "_".join(path.relative_to(REPO).with_suffix("").parts)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
