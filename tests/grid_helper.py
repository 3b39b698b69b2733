"""Tiny labelled sets, checkpoint folders and store checks shared by the evaluation-core tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from humanalign.io.results import NATURAL_KEYS

REPO = Path(__file__).resolve().parents[1]


def image_set(root: Path, per_class: int = 4, classes: tuple[str, ...] = ("red", "green", "blue"),
              size: tuple[int, int] = (28, 36), seed: int = 0) -> Path:
    """``root/<class>/<i>.png``: noisy images whose dominant channel is the class (an easy readout)."""
    rng = np.random.default_rng(seed)
    for k, cls in enumerate(classes):
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            a = np.full((*size, 3), 60.0)
            a[..., k % 3] = 200
            a = np.clip(a + rng.normal(0, 25, a.shape), 0, 255).astype(np.uint8)
            Image.fromarray(a).save(root / cls / f"{i}.png")
    return root


def save_run(run: Path, seed: int, step: int = 1, arch: str = "vit_test_image") -> Path:
    """A training-run folder ``run/checkpoints/<step>/`` holding a ``seed``-initialised suite encoder."""
    from humanalign.config import to_dict
    from humanalign.io.checkpoints import save_checkpoint
    from humanalign.registry import MODELS

    torch.manual_seed(seed)
    enc = MODELS.build(arch)
    save_checkpoint(run, step, {f"encoder.{k}": v for k, v in enc.state_dict().items()},
                    {"encoder": to_dict(enc.cfg), "eval_prefix": "encoder.", "run_name": run.name}, None)
    return run


def duplicates(db: Path, table: str) -> int:
    """Rows of ``table`` beyond the first of each natural key (read with plain SQL, not the store)."""
    key = ", ".join(f"ifnull(\"{c}\", '')" for c in NATURAL_KEYS[table])
    con = sqlite3.connect(db)
    try:
        total = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        distinct = con.execute(f"SELECT count(*) FROM (SELECT DISTINCT {key} FROM {table})").fetchone()[0]
    finally:
        con.close()
    return int(total - distinct)


def truncate_png(path: Path) -> Path:
    """Cut an image file to half its bytes (a truncated PNG: valid header, broken data)."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path
