"""Demo video generator: deterministic, moving camera and objects, manifest and broken files, CLI."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from humanalign.data.__main__ import main
from humanalign.data.demo_videos import BAD_FILES, DemoVideoSpec, render_demo_video
from humanalign.data.video_index import scan_videos
from humanalign.io.video import VideoReader


def test_render_is_deterministic_and_moves() -> None:
    spec = DemoVideoSpec(size=48, seconds=1.0, fps=12)
    a = render_demo_video(spec, np.random.default_rng([0, 1]))
    b = render_demo_video(spec, np.random.default_rng([0, 1]))
    c = render_demo_video(spec, np.random.default_rng([0, 2]))
    assert a.shape == (12, 48, 48, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert np.abs(a.astype(int) - c).mean() > 10  # another video looks different
    step = np.abs(np.diff(a.astype(int), axis=0)).mean(axis=(1, 2, 3))  # [T-1]
    assert (step > 0.5).all(), step  # the camera never stops
    assert step.mean() < 40, step  # ... but moves smoothly, consecutive frames are related
    assert a.std() > 20  # textured, not flat


def test_cli_writes_videos_manifest_and_broken_files(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "demo"
    code = main(
        [
            "make-demo-videos",
            "--out",
            str(out),
            "--count",
            "3",
            "--seconds",
            "1",
            "--size",
            "32",
            "--fps",
            "10",
            "--seed",
            "4",
            "--bad",
            "--workers",
            "1",
        ]
    )
    assert code == 0 and "wrote 3 videos" in capsys.readouterr().out
    with (out / "manifest.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["path"] for r in rows] == ["video_00000.mp4", "video_00001.mp4", "video_00002.mp4", *BAD_FILES]
    reader = VideoReader()
    for row in rows[:3]:
        assert reader.probe(out / row["path"], verify=True) == (10, 10.0) == (int(row["num_frames"]), 10.0)
    first = reader.read(out / "video_00000.mp4", [0, 9])
    want = render_demo_video(DemoVideoSpec(size=32, seconds=1, fps=10), np.random.default_rng([4, 0]))[[0, 9]]
    assert np.abs(first.astype(int) - want).mean() < 6  # lossy H.264 of what was rendered
    assert (out / "bad_empty.mp4").stat().st_size == 0

    index = scan_videos(out / "manifest.csv", cache=False)
    assert len(index) == 3
    assert sorted(Path(s.path).name for s in index.skipped) == sorted(BAD_FILES)

    assert main(["scan", str(out), "--no-cache"]) == 0
    printed = capsys.readouterr().out
    assert "3 videos" in printed and "4 skipped" in printed
    for name in BAD_FILES:
        assert name in printed


def test_cli_rejects_odd_size(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["make-demo-videos", "--out", str(tmp_path), "--count", "1", "--size", "33", "--workers", "1"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "even size" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(ValueError, match="even size"):  # -v: the traceback
        main([*args, "-v"])
