"""A robustness grid scored as shards into their own stores, merged, then summarised, equals one process's rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from humanalign.eval.grid import GridSettings, grid_cells
from humanalign.eval.labelled import load_labelled
from humanalign.eval.robustness import parse_shard, run_robustness, shard_cells
from humanalign.io.results import ResultsStore
from humanalign.models.observers import load_observers

CORRUPTIONS, SEVERITIES = ["gaussian_noise", "fog"], [1, 3]
_DROP = ["time", "git_revision", "package_version"]


def _set(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for k, cls in enumerate(("red", "green", "blue")):
        (root / cls).mkdir(parents=True)
        for i in range(4):
            a = np.full((28, 36, 3), 60.0)
            a[..., k] = 200
            Image.fromarray(np.clip(a + rng.normal(0, 25, a.shape), 0, 255).astype(np.uint8)).save(root / cls / f"{i}.png")
    return root


def _rows(store: ResultsStore) -> tuple[pd.DataFrame, pd.DataFrame]:
    def tidy(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
        df = df.drop(columns=[c for c in _DROP if c in df]).astype(str)
        return df.sort_values(keys).reset_index(drop=True)[sorted(df.columns)]

    return (tidy(store.metrics(), ["model", "condition", "metric"]),
            tidy(store.trials(), ["observer", "condition", "imagename"]))


def test_shards_cover_every_cell_once_plus_clean() -> None:
    cells = grid_cells(CORRUPTIONS, SEVERITIES)
    parts = [shard_cells(cells, i, 3) for i in range(3)]
    assert all(p[0].condition == "clean" for p in parts)
    assert sorted(c.condition for p in parts for c in p[1:]) == sorted(c.condition for c in cells[1:])
    assert parse_shard("1/3") == (1, 3) and parse_shard(None) is None


def test_merged_shards_equal_one_process(tmp_path: Path) -> None:
    from humanalign.results.merge import merge

    data = load_labelled(_set(tmp_path / "toy"), min_classes=2)
    settings = GridSettings(folds=2, device="cpu", cache_dir=str(tmp_path / "cache"))
    observers = load_observers("vit_test_image,vit_test_video")
    one = ResultsStore(tmp_path / "one.sqlite")
    run_robustness(observers, data, CORRUPTIONS, SEVERITIES, one, settings)
    shards = []
    for i in range(2):
        shard = ResultsStore(tmp_path / f"shard{i}.sqlite")
        grids, summary = run_robustness(observers, data, CORRUPTIONS, SEVERITIES, shard, settings, shard=(i, 2))
        assert not summary.rows and all(g.computed[0] == "clean" for g in grids)
        shards.append(shard.path)
    merged_path = tmp_path / "merged.sqlite"
    merge(merged_path, shards)
    merged = ResultsStore(merged_path)
    grids, _ = run_robustness(observers, data, CORRUPTIONS, SEVERITIES, merged, settings)
    assert all(not g.computed and len(g.skipped) == 5 for g in grids), "every cell came from the shards"
    (m_one, t_one), (m_merged, t_merged) = _rows(one), _rows(merged)
    pd.testing.assert_frame_equal(t_merged, t_one)
    pd.testing.assert_frame_equal(m_merged, m_one)
