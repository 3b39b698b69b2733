"""Probes and fine-tuning on a generated separable task (motion direction of moving squares), chance on
shuffled labels, the image protocol (static clips), layer-wise lr decay, and the CLI writing results rows."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from humanalign.eval.__main__ import main as eval_main
from humanalign.eval.data import ViewSpec, load_labelled, load_views, read_image
from humanalign.eval.features import view_features, view_spec_for
from humanalign.eval.finetune import FinetuneConfig, param_groups_lrd
from humanalign.eval.metrics import topk_accuracy
from humanalign.eval.probes import (
    AttentiveProbeConfig,
    fit_linear_probe,
    predict_attentive,
    predict_linear,
    train_attentive_probe,
)
from humanalign.eval.run import EvalSettings, evaluate, result_rows
from humanalign.io.results import ResultsStore
from humanalign.io.video import write_video
from humanalign.models.heads import EncoderClassifier
from humanalign.registry import MODELS


@pytest.fixture(autouse=True)
def _one_thread(_few_threads: None) -> None:
    """Tiny models train fastest on one thread; two threads thrash when the CI machine is busy."""
    torch.set_num_threads(1)


def moving_square(rng: np.random.Generator, direction: str, frames: int = 12, size: int = 32) -> np.ndarray:
    """uint8 ``[T, S, S, 3]``: one square of random colour, row and start, moving left or right."""
    video = np.full((frames, size, size, 3), 20, np.uint8)
    side = 8
    y, x0 = int(rng.integers(0, size - side)), int(rng.integers(8, size - side - 8))
    colour = rng.integers(150, 256, 3)
    step = 1 if direction == "right" else -1
    for t in range(frames):
        x = int(np.clip(x0 + step * (t - frames // 2), 0, size - side))
        video[t, y:y + side, x:x + side] = colour
    return video


@pytest.fixture(scope="module")
def motion_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("motion")
    rng = np.random.default_rng(0)
    for split, n in (("train", 20), ("val", 16)):
        for direction in ("left", "right"):
            for i in range(n):
                write_video(root / split / direction / f"{i:02d}.mp4", moving_square(rng, direction), fps=10)
    return root


@pytest.fixture(scope="module")
def encoder() -> torch.nn.Module:
    torch.manual_seed(0)
    return MODELS.build("vit_test_video").eval()


@pytest.fixture(scope="module")
def sets(motion_data):
    return load_labelled(motion_data / "train"), load_labelled(motion_data / "val")


def _shuffled_accuracy(fit_predict, labels_train: np.ndarray, labels_val: np.ndarray, repeats: int = 5) -> float:
    rng = np.random.default_rng(1)
    return float(np.mean([topk_accuracy(fit_predict(rng.permutation(labels_train)), labels_val)
                          for _ in range(repeats)]))


def test_linear_probe_separates_motion_and_is_at_chance_on_shuffled_labels(encoder, sets):
    train, val = sets
    spec = view_spec_for(encoder, stride=2)
    x_train = view_features(encoder, train, spec, use_cache=False, progress=False)[:, 0]
    x_val = view_features(encoder, val, spec, use_cache=False, progress=False)
    accuracy = topk_accuracy(predict_linear(fit_linear_probe(x_train, train.labels), x_val, 2), val.labels)
    assert accuracy >= 0.9
    chance = _shuffled_accuracy(lambda y: predict_linear(fit_linear_probe(x_train, y), x_val, 2),
                                train.labels, val.labels)
    assert 0.25 <= chance <= 0.75


def test_attentive_probe_separates_motion_and_is_at_chance_on_shuffled_labels(encoder, sets):
    train, val = sets
    spec = view_spec_for(encoder, stride=2)
    t_train = view_features(encoder, train, spec, "tokens", use_cache=False, progress=False)[:, 0]
    t_val = view_features(encoder, val, spec, "tokens", use_cache=False, progress=False)
    assert t_train.shape == (40, 2 * 4 * 4, encoder.embed_dim)  # [N, T'H'W', D]
    cfg = AttentiveProbeConfig(num_heads=2)  # the defaults
    head = train_attentive_probe(t_train, train.labels, 2, cfg)
    assert topk_accuracy(predict_attentive(head, t_val), val.labels) >= 0.9
    chance = _shuffled_accuracy(lambda y: predict_attentive(train_attentive_probe(t_train, y, 2, cfg), t_val),
                                train.labels, val.labels, repeats=2)
    assert 0.2 <= chance <= 0.8


def test_fewshot_finetuning_with_multiview_test(encoder, sets):
    train, val = sets
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    settings = EvalSettings("fewshot", shots=10, stride=2, num_clips=2, num_crops=3, seed=0, cache=False,
                            finetune=FinetuneConfig(epochs=10, lr=1e-3, batch_size=4, layer_decay=0.9, flip=False))
    result = evaluate(encoder, train, val, settings, progress=False)
    assert result.n_train == 20 and result.probs.shape == (32, 2)
    assert result.top1 >= 0.9 and result.top5 == 1.0
    for k, v in encoder.state_dict().items():  # the caller's encoder is not modified
        torch.testing.assert_close(v, before[k])
    rows = result_rows(result, "vit_test_video", "motion")
    top1 = next(r for r in rows if r["metric"] == "top1")
    assert top1["condition"] == "10-shot" and top1["ci_low"] <= result.top1 <= top1["ci_high"]


def test_layerwise_lr_decay_follows_the_formula(encoder):
    model = EncoderClassifier(encoder, num_classes=3)
    groups = param_groups_lrd(model, lr=1.0, weight_decay=0.05, layer_decay=0.5)
    depth = encoder.depth  # 2 -> layers 0..3
    by_layer = {g["layer_id"]: g["lr"] for g in groups}
    assert by_layer == {0: 0.5 ** 3, 1: 0.5 ** 2, 2: 0.5, 3: 1.0} and max(by_layer) == depth + 1
    names = {id(p): n for n, p in model.named_parameters()}
    for g in groups:
        for p in g["params"]:
            no_decay = p.ndim <= 1 or "pos_embed" in names[id(p)] or "token" in names[id(p)]
            assert g["weight_decay"] == (0.0 if no_decay else 0.05), names[id(p)]
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


def test_image_protocol_static_clips_fraction(tmp_path):
    """2%-style protocol on images: a video encoder sees each image as a static clip."""
    from PIL import Image

    rng = np.random.default_rng(2)
    for split, n in (("train", 30), ("val", 10)):
        for cls, channel in (("red", 0), ("blue", 2)):
            for i in range(n):
                img = np.full((32, 32, 3), 30, np.uint8)
                y, x = rng.integers(0, 20, 2)
                img[y:y + 12, x:x + 12, channel] = 230
                Image.fromarray(img).save(tmp_path / f"{split}_{cls}_{i}.png")
                (tmp_path / split / cls).mkdir(parents=True, exist_ok=True)
                (tmp_path / f"{split}_{cls}_{i}.png").rename(tmp_path / split / cls / f"{i}.png")
    torch.manual_seed(0)
    enc = MODELS.build("vit_test_video").eval()
    result = evaluate(enc, load_labelled(tmp_path / "train"), load_labelled(tmp_path / "val"),
                      EvalSettings("linear", fraction=0.2, cache=False), progress=False)
    assert result.n_train == 12 and result.settings.protocol() == "20%"
    assert result.top1 >= 0.9


def test_cli_linear_writes_results_and_uses_the_feature_cache(motion_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HUMANALIGN_CACHE", str(tmp_path / "cache"))
    db = tmp_path / "results.sqlite"
    args = ["linear", "--model", "vit_test_video", "--train", str(motion_data / "train"), "--val",
            str(motion_data / "val"), "--stride", "2", "--results", str(db), "--quiet", "--dataset", "motion"]
    torch.manual_seed(0)  # vit_test_video is randomly initialised: same seed, same weights
    assert eval_main(args) == 0
    out = capsys.readouterr().out
    assert "top-1" in out and "results appended" in out
    rows = ResultsStore(db).metrics(benchmark="eval_linear", dataset="motion")
    assert set(rows["metric"]) == {"top1", "top5"} and (rows["n"] == 32).all()
    assert len(list((tmp_path / "cache").rglob("*.npz"))) == 2  # train and val features cached
    torch.manual_seed(0)
    assert eval_main(args) == 0  # second run: cache hits, same figure
    again = ResultsStore(db).metrics(benchmark="eval_linear", dataset="motion", metric="top1")
    assert len(again) == 1  # the same evaluation again: same natural key, the row is not written twice


def test_cli_reports_bad_input_without_traceback(tmp_path, capsys):
    code = eval_main(["attentive", "--model", "vit_test_video", "--train", str(tmp_path / "absent"),
                      "--val", str(tmp_path / "absent"), "--quiet", "--no-store"])
    assert code == 2 and "labelled data not found" in capsys.readouterr().err


def test_cli_fewshot_on_a_training_run_folder(motion_data, tmp_path, capsys):
    """``--model RUN``: the newest checkpoint of a pretraining run is evaluated (weights from the run)."""
    from humanalign.config import to_dict
    from humanalign.io.checkpoints import save_checkpoint

    torch.manual_seed(5)
    enc = MODELS.build("vit_test_video")
    run = tmp_path / "runs" / "demo"
    save_checkpoint(run, 7, {f"encoder.{k}": v for k, v in enc.state_dict().items()},
                    {"encoder": to_dict(enc.cfg), "eval_prefix": "encoder.", "run_name": "demo"}, None)
    code = eval_main(["fewshot", "--model", str(run), "--train", str(motion_data / "train"), "--val",
                      str(motion_data / "val"), "--shots", "5", "--epochs", "2", "--batch-size", "5", "--no-flip",
                      "--stride", "2", "--quiet", "--no-store", "--no-cache"])
    assert code == 0
    out = capsys.readouterr().out
    assert "fewshot 5-shot | model demo" in out and "train 10, val 32" in out


def test_released_head_is_scored_with_its_pooling_and_views(motion_data, tmp_path):
    from humanalign.eval.data import load_views
    from humanalign.eval.run import evaluate_head, head_labels

    torch.manual_seed(3)
    enc = MODELS.build("vit_test_video", cls_token=True).eval()
    enc.head = torch.nn.Linear(enc.embed_dim, 2)
    enc.released = {"pool": "cls"}
    val = load_labelled(motion_data / "val")
    settings = EvalSettings(stride=2, num_clips=2, num_crops=1)
    result = evaluate_head(enc, val, settings, progress=False)
    spec = view_spec_for(enc, num_clips=2, stride=2)
    with torch.no_grad():
        expected = np.stack([enc.head(enc.encode(load_views(p, spec), pool="cls")).softmax(-1).mean(0).numpy()
                             for p in val.paths])
    np.testing.assert_allclose(result.probs, expected, atol=1e-5)
    assert result.settings.pool == "cls" and result.settings.protocol() == "released head"
    # integer-named class folders index the head's outputs directly
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "a.mp4").write_bytes((motion_data / "val" / "left" / "00.mp4").read_bytes())
    assert head_labels(load_labelled(tmp_path), 10).tolist() == [7]
    with pytest.raises(ValueError, match="outside the head"):
        head_labels(load_labelled(tmp_path), 5)
    with pytest.raises(ValueError, match="2 class folders for a head with 3 outputs"):
        head_labels(val, 3)


def test_unreadable_files_are_skipped_and_listed(motion_data, tmp_path, capsys):
    import shutil

    val = tmp_path / "val"
    shutil.copytree(motion_data / "val", val)
    (val / "left" / "empty.mp4").write_bytes(b"")
    data = (val / "right" / "00.mp4").read_bytes()
    (val / "right" / "truncated.mp4").write_bytes(data[: len(data) // 3])
    code = eval_main(["linear", "--model", "vit_test_video", "--train", str(motion_data / "train"), "--val", str(val),
                      "--stride", "2", "--quiet", "--no-store", "--no-cache"])
    assert code == 0
    out = capsys.readouterr().out
    assert "val 32" in out and "skipped 2 unreadable file(s)" in out
    assert "empty.mp4" in out and "truncated.mp4" in out


def test_images_are_read_as_rgb_one_frame_clips(tmp_path: Path) -> None:
    """Greyscale and RGB files both come back as uint8 [1, H, W, 3]; an image has one [3, S, S] view per crop."""
    from PIL import Image

    grey = np.arange(12 * 20, dtype=np.uint8).reshape(12, 20)
    Image.fromarray(grey, mode="L").save(tmp_path / "grey.png")
    frames = read_image(tmp_path / "grey.png")
    assert frames.shape == (1, 12, 20, 3) and frames.dtype == np.uint8
    np.testing.assert_array_equal(frames[0, ..., 1], grey)
    views = load_views(tmp_path / "grey.png", ViewSpec(img_size=8, num_crops=3))
    assert views.shape == (3, 3, 8, 8)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(OSError):
        read_image(tmp_path / "broken.png")



def test_view_features_cache_hit_skips_the_encoder(encoder, sets, tmp_path, monkeypatch) -> None:
    """A second call (here given the weights hash the caller already has) reads the cache, not the model."""
    import importlib

    from humanalign.features.hashing import state_dict_hash

    extract_module = importlib.import_module("humanalign.features.extract")  # the module, not the function

    val = sets[1].subset([0, 1, 2])
    spec = view_spec_for(encoder, stride=2)
    first = view_features(encoder, val, spec, cache_dir=tmp_path, progress=False)

    def no_forward(*args, **kwargs):
        raise AssertionError("the encoder ran although the features were cached")

    monkeypatch.setattr(extract_module, "_run", no_forward)
    again = view_features(encoder, val, spec, cache_dir=tmp_path, progress=False,
                          checkpoint_hash=state_dict_hash(encoder))
    np.testing.assert_array_equal(again, first)
    other_views = dataclasses.replace(spec, num_crops=3)  # other views are another key: computed, not reused
    with pytest.raises(AssertionError, match="the encoder ran"):
        view_features(encoder, val, other_views, cache_dir=tmp_path, progress=False)


def test_view_features_equal_the_encoders_own_outputs_on_every_view(encoder, sets) -> None:
    """Through features.extract, every view's pooled embedding, final-norm tokens and block tokens equal the
    suite encoder's own ``encode`` / ``block_outputs`` on the normalised views of :func:`load_views`."""
    val = sets[1].subset([0, 5, 17])
    spec = dataclasses.replace(view_spec_for(encoder, stride=2), num_clips=2, num_crops=3)
    common = dict(use_cache=False, progress=False, batch_size=2)
    pooled = view_features(encoder, val, spec, "pooled", "mean", **common)
    final_tokens = view_features(encoder, val, spec, "tokens", layer=-1, **common)
    first_block = view_features(encoder, val, spec, "tokens", layer=0, **common)
    assert pooled.shape == (3, 6, encoder.embed_dim) and final_tokens.shape == (3, 6, 2 * 4 * 4, encoder.embed_dim)
    prefix = encoder.num_prefix_tokens
    with torch.no_grad():
        for n, path in enumerate(val.paths):
            views = load_views(path, spec)  # [6, 3, T, S, S]
            np.testing.assert_allclose(pooled[n], encoder.encode(views, pool="mean").numpy(), atol=1e-5)
            normed, raw = encoder.block_outputs(views, layers=[-1], norm=True)[0], encoder.block_outputs(views, [0])[0]
            np.testing.assert_allclose(final_tokens[n], normed[:, prefix:].numpy(), atol=1e-5)
            np.testing.assert_allclose(first_block[n], raw[:, prefix:].numpy(), atol=1e-5)


def test_view_features_refuse_an_unknown_kind_and_a_normalisation_the_contract_would_ignore(encoder, sets) -> None:
    val = sets[1].subset([0])
    spec = view_spec_for(encoder, stride=2)
    with pytest.raises(ValueError, match="unknown feature kind 'maps'"):
        view_features(encoder, val, spec, "maps", use_cache=False, progress=False)
    with pytest.raises(ValueError, match="normalised by .* input contract"):
        view_features(encoder, val, dataclasses.replace(spec, mean=(0.0, 0.0, 0.0)), use_cache=False, progress=False)
