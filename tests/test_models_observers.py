"""Observer adapter (issue 14): spec parsing, layer selection and pooling, plain-module sources
(``py:``, ``package.module:FUNC``, ``hub:``), strict weights loading, determinism and ``list layers``.

Library equivalence tests live in ``test_models_observers_sources.py`` (timm, torchvision) and
``test_models_observers_hf.py`` (transformers). Everything here builds offline from tiny modules.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from humanalign.io.checkpoints import CheckpointError
from humanalign.models.observers import (
    LayerError,
    SpecError,
    as_observer,
    load_observer,
    load_observers,
    parse_spec,
    parse_specs,
    pool_output,
)
from humanalign.models.observers.layers import unflatten_tokens
from humanalign.models.observers.weights import read_state_dict

# A small CNN with a classifier, as a user would write it in a file (importable by py:, module: and hub:).
CNN_SOURCE = textwrap.dedent('''
    import torch
    from torch import nn


    class TinyCNN(nn.Module):
        def __init__(self, classes=10):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
            self.stage1 = nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU())
            self.stage2 = nn.Sequential(nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU())
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(32, classes)

        def forward(self, x):
            x = self.stage2(self.stage1(self.stem(x)))
            return self.fc(self.pool(x).flatten(1))


    def build(classes=10):
        return TinyCNN(classes)


    def build_imagenet():
        return TinyCNN(1000)


    def not_a_module():
        return 3
''')


def _manual(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The TinyCNN forward written out by hand: every intermediate the hooks should see."""
    stem = model.stem(x)
    s1 = model.stage1(stem)
    s2 = model.stage2(s1)
    emb = model.pool(s2).flatten(1)
    return {"stem": stem, "stage1": s1, "stage2": s2, "final": emb, "logits": model.fc(emb)}


@pytest.fixture()
def cnn_file(tmp_path: Path) -> Path:
    file = tmp_path / "my_net.py"
    file.write_text(CNN_SOURCE)
    return file


@pytest.fixture()
def x32() -> torch.Tensor:
    return torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))


# -- 6. spec parsing ------------------------------------------------------------------------------
def test_every_spec_form_parses(tmp_path: Path) -> None:
    s = parse_spec("timm:resnet50@/w/r50.pth")
    assert (s.source, s.target, s.weights) == ("timm", "resnet50", "/w/r50.pth")
    assert parse_spec("timm:resnet50").weights is None
    s = parse_spec("torchvision:resnet18@w.safetensors")
    assert (s.source, s.target, s.weights) == ("torchvision", "resnet18", "w.safetensors")
    assert (parse_spec("hf:/models/vjepa2").source, parse_spec("hf:/models/vjepa2").target) == ("hf", "/models/vjepa2")
    assert parse_spec("hf:facebook/vjepa2-vitl-fpc64-256").target == "facebook/vjepa2-vitl-fpc64-256"
    s = parse_spec("hub:/repos/net:resnet_small")
    assert (s.source, s.target, s.entry) == ("hub", "/repos/net", "resnet_small")
    s = parse_spec("py:nets/my_net.py:build")
    assert (s.source, s.target, s.entry) == ("py", "nets/my_net.py", "build")
    s = parse_spec("mypkg.models:build")
    assert (s.source, s.target, s.entry) == ("module", "mypkg.models", "build")
    assert parse_spec("vjepa-vitl16").source == "suite"
    assert parse_spec("runs/a/A").source == "suite"
    step = tmp_path / "runs" / "A" / "checkpoints" / "100"
    step.mkdir(parents=True)
    assert parse_spec(str(step)).default_name == "A@100"
    # the default observer id is the spec without its overrides
    assert parse_spec("timm:resnet50|size=160").default_name == "timm:resnet50"


def test_overrides_parse_and_apply() -> None:
    s = parse_spec("py:net.py:build|size=64,kind=video,frames=8")
    assert dict(s.overrides) == {"size": "64", "kind": "video", "frames": "8"}
    from humanalign.models.observers import InputContract

    c = InputContract().with_overrides(s.overrides, s.text)
    assert (c.kind, c.size, c.frames) == ("video", 64, 8)
    c = InputContract().with_overrides({"mean": "0.5/0.5/0.5", "crop": "0.9", "interpolation": "bicubic"})
    assert (c.mean, c.crop_fraction, c.interpolation) == ((0.5, 0.5, 0.5), 0.9, "bicubic")
    with pytest.raises(SpecError, match="mean"):
        InputContract().with_overrides({"mean": "0.5/0.5"}, "x|mean=0.5/0.5")


def test_lists_comma_or_space_separated_and_overrides_keep_their_commas() -> None:
    texts = [s.text for s in parse_specs("timm:resnet18, torchvision:resnet18 hf:/m/vit")]
    assert texts == ["timm:resnet18", "torchvision:resnet18", "hf:/m/vit"]
    assert [s.text for s in parse_specs(["timm:resnet18,timm:resnet10t", "py:a.py:f"])] == \
        ["timm:resnet18", "timm:resnet10t", "py:a.py:f"]
    # bug fixed: the override commas were split into specs of their own ("kind=video" as a model)
    specs = parse_specs("py:net.py:build|size=64,kind=video,frames=8,timm:resnet18")
    assert [s.text for s in specs] == ["py:net.py:build|size=64,kind=video,frames=8", "timm:resnet18"]
    assert dict(specs[0].overrides) == {"size": "64", "kind": "video", "frames": "8"}


def test_same_named_run_folders_get_distinct_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for run in ("a", "b"):
        (tmp_path / "runs" / run / "A").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert [s.default_name for s in parse_specs("runs/a/A,runs/b/A")] == ["a/A", "b/A"]
    with pytest.raises(SpecError, match="given twice"):
        parse_specs("runs/a/A runs/a/A")
    with pytest.raises(SpecError, match="given twice"):
        parse_specs("timm:resnet18,timm:resnet18")


def test_mapping_keeps_user_names() -> None:
    specs = parse_specs({"mynet": "timm:resnet50@/w/r50.pth", "tv": "torchvision:resnet18"})
    assert [(s.default_name, s.source, s.weights) for s in specs] == \
        [("mynet", "timm", "/w/r50.pth"), ("tv", "torchvision", None)]
    # the same spec twice under two user names is two observers (two names for the results rows)
    assert [s.default_name for s in parse_specs({"a": "timm:resnet18", "b": "timm:resnet18"})] == ["a", "b"]


@pytest.mark.parametrize("bad", ["timm:", "timm:@w.pth", "timm:resnet18@", "torchvision:resnet18@|size=64", "hf:", "hub:/only/dir", "py:net.txt:build",
                                 "py:net.py", "timm:resnet18|sise=3", "timm:resnet18|size"])
def test_bad_specs_are_spec_errors_naming_the_spec(bad: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_spec(bad)
    assert repr(bad) in str(err.value) or bad in str(err.value)


def test_empty_spec_and_unknown_library_names() -> None:
    with pytest.raises(SpecError, match="empty"):
        parse_spec("  ")
    with pytest.raises(SpecError, match="timm has no model 'resnet_nope'"):
        load_observer("timm:resnet_nope")
    with pytest.raises(SpecError, match="torchvision has no model"):
        load_observer("torchvision:resnet_nope")


# -- 4. plain modules: py:, package.module:FUNC, hub: --------------------------------------------------
def _check_plain(obs, x: torch.Tensor) -> None:
    ref = _manual(obs.module, x)
    with torch.no_grad():
        layers = obs.resolve_layers("stem,stage1,stage2,final")
        assert layers == ["block0", "block1", "block2", "final"]  # blocks are named canonically
        feats = obs.features(x, layers, pooling="tokens")
        for i, name in enumerate(("stem", "stage1", "stage2")):
            assert obs.module_name(f"block{i}") == name
            torch.testing.assert_close(feats[f"block{i}"], ref[name].flatten(1), rtol=0, atol=1e-6)
        torch.testing.assert_close(feats["final"], ref["final"], rtol=0, atol=1e-6)
        mean = obs.features(x, ["block2"], pooling="mean")["block2"]
        torch.testing.assert_close(mean, ref["stage2"].mean((2, 3)), rtol=0, atol=1e-6)
        torch.testing.assert_close(obs.logits(x), ref["logits"], rtol=0, atol=1e-6)
    assert obs.num_classes == 10 and not obs.has_imagenet_logits  # 10 classes: the cross-validated readout


def test_py_file_observer_equals_a_manual_forward(cnn_file: Path, x32: torch.Tensor) -> None:
    obs = load_observer(f"py:{cnn_file}:build|size=32")
    assert (obs.source, obs.id, obs.contract.size, obs.contract.kind) == ("py", f"py:{cnn_file}:build", 32, "image")
    # top-level children minus the classifier and parameter-free modules (bug fixed: "pool" was a block)
    assert obs.blocks == ["stem", "stage1", "stage2"]
    _check_plain(obs, x32)


def test_module_func_observer(cnn_file: Path, monkeypatch: pytest.MonkeyPatch, x32: torch.Tensor) -> None:
    pkg = cnn_file.parent / "userpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "nets.py").write_text(CNN_SOURCE)
    monkeypatch.syspath_prepend(str(cnn_file.parent))
    obs = load_observer("userpkg.nets:build")
    assert obs.source == "module"
    _check_plain(obs, x32)
    imagenet = load_observer("userpkg.nets:build_imagenet")
    assert imagenet.has_imagenet_logits and imagenet.num_classes == 1000  # -> the 1000 -> 16 mapping
    with pytest.raises(SpecError, match="not an nn.Module"):
        load_observer("userpkg.nets:not_a_module")
    with pytest.raises(SpecError, match="no function 'nope'"):
        load_observer("userpkg.nets:nope")
    with pytest.raises(SpecError, match="cannot import"):
        load_observer("userpkg.missing:build")
    monkeypatch.delitem(sys.modules, "userpkg.nets", raising=False)
    monkeypatch.delitem(sys.modules, "userpkg", raising=False)


def test_hub_observer(tmp_path: Path, x32: torch.Tensor) -> None:
    repo = tmp_path / "hubrepo"
    repo.mkdir()
    (repo / "tinycnn.py").write_text(CNN_SOURCE)
    (repo / "hubconf.py").write_text("dependencies = ['torch']\nfrom tinycnn import build as tiny_cnn\n")
    obs = load_observer(f"hub:{repo}:tiny_cnn")
    assert obs.source == "hub"
    _check_plain(obs, x32)
    with pytest.raises(SpecError, match="cannot load entry 'nope'"):
        load_observer(f"hub:{repo}:nope")
    with pytest.raises(FileNotFoundError, match="no hubconf.py"):
        load_observer(f"hub:{tmp_path}:tiny_cnn")


def test_py_file_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="Python file not found"):
        load_observer(f"py:{tmp_path}/missing.py:build")
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(SpecError, match="import failed.*boom"):
        load_observer(f"py:{broken}:build")


def test_in_memory_module_as_observer(x32: torch.Tensor, cnn_file: Path) -> None:
    obs = load_observer(f"py:{cnn_file}:build")
    again = as_observer(obs.module, name="mine")
    assert again.id == "mine"
    assert as_observer(again) is again
    _check_plain(again, x32)


BACKBONE_SOURCE = textwrap.dedent('''
    import torch
    from torch import nn


    class Block(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.norm = nn.LayerNorm(dim)
            self.fc1, self.fc2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)

        def forward(self, x):
            return x + self.fc2(torch.relu(self.fc1(self.norm(x))))


    class TokenBackbone(nn.Module):  # no classifier: its last Linear is the last block's MLP
        def __init__(self, dim=16):
            super().__init__()
            self.patch = nn.Conv2d(3, dim, 8, stride=8)
            self.blocks = nn.ModuleList([Block(dim) for _ in range(2)])

        def forward(self, x):
            x = self.patch(x).flatten(2).transpose(1, 2)  # [B, N, D]
            for block in self.blocks:
                x = block(x)
            return x


    def build():
        return TokenBackbone()


    def relu_after_linear():
        return nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10), nn.ReLU())
''')


def test_a_last_linear_that_is_not_the_output_is_no_classifier(tmp_path: Path) -> None:
    file = tmp_path / "backbone.py"
    file.write_text(BACKBONE_SOURCE)
    obs = load_observer(f"py:{file}:build|size=32")
    # bug fixed: blocks.1.fc2 was taken as the head: "final" was its [B, N * 64] hidden input, logits its output
    assert obs.num_classes is None and not obs.has_imagenet_logits
    assert obs.blocks == ["blocks.0", "blocks.1"]
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        tokens = obs.module(x)
        feats = obs.features(x, ["block1", "final"])
    torch.testing.assert_close(feats["final"], tokens.mean(1), rtol=0, atol=1e-6)
    torch.testing.assert_close(feats["block1"], tokens.mean(1), rtol=0, atol=1e-6)
    relu = load_observer(f"py:{file}:relu_after_linear|size=32")
    assert relu.num_classes is None  # a ReLU after the Linear: its outputs are not logits


# -- 8. layer selection and pooling -----------------------------------------------------------------
def test_layer_selection_on_a_cnn(cnn_file: Path) -> None:
    obs = load_observer(f"py:{cnn_file}:build")
    assert obs.resolve_layers("final") == ["final"]
    assert obs.resolve_layers("blocks") == ["block0", "block1", "block2"]
    assert obs.resolve_layers("all") == ["block0", "block1", "block2", "final"]
    assert obs.resolve_layers("stage1.0,fc") == ["stage1.0", "fc"]
    assert obs.resolve_layers("blocks,fc") == ["block0", "block1", "block2", "fc"]  # was "no layer 'blocks'"
    assert obs.resolve_layers(["fc", "all"]) == ["fc", "block0", "block1", "block2", "final"]
    assert obs.resolve_layers("stage*.0") == ["stage1.0", "stage2.0"]
    assert obs.resolve_layers("stage*") == ["block1", "stage1.0", "stage1.1", "block2", "stage2.0", "stage2.1"]
    assert obs.resolve_layers("stage1") == ["block1"]  # a block's module name is its canonical block name
    assert obs.resolve_layers([0, -1]) == ["block0", "block2"]
    assert obs.module_name("block1") == "stage1"
    with pytest.raises(LayerError, match="Did you mean: stage1"):
        obs.resolve_layers("stagee1")
    with pytest.raises(LayerError, match="outside the 3 blocks"):
        obs.resolve_layers("block7")
    with pytest.raises(LayerError, match="matches no module"):
        obs.resolve_layers("nothing.*")
    with pytest.raises(LayerError, match="'block9' is outside its 3 blocks"):  # was an IndexError
        obs.features(torch.zeros(1, 3, 32, 32), ["block9"])


def test_classifier_layers_are_hookable_with_final(cnn_file: Path, x32: torch.Tensor) -> None:
    obs = load_observer(f"py:{cnn_file}:build")
    with torch.no_grad():
        feats = obs.features(x32, ["final", "fc", "block2"])
        ref = _manual(obs.module, x32)
    torch.testing.assert_close(feats["fc"], ref["logits"], rtol=0, atol=1e-6)
    torch.testing.assert_close(feats["final"], ref["final"], rtol=0, atol=1e-6)


def test_cls_pooling_on_a_cnn_map_is_a_clear_error(cnn_file: Path, x32: torch.Tensor) -> None:
    obs = load_observer(f"py:{cnn_file}:build")
    with pytest.raises(LayerError, match="feature maps"):
        obs.features(x32, ["block2"], pooling="cls")
    with pytest.raises(LayerError, match="unknown pooling"):
        obs.features(x32, ["block2"], pooling="max")


def test_project_pooling_bounds_width_and_is_deterministic(cnn_file: Path, x32: torch.Tensor) -> None:
    obs = load_observer(f"py:{cnn_file}:build")
    with torch.no_grad():
        a = obs.features(x32, ["block0", "block2"], pooling="project", project_dim=256)
        b = obs.features(x32, ["block0", "block2"], pooling="project", project_dim=256)
        raw = obs.features(x32, ["block0"], pooling="tokens")["block0"]
    assert a["block0"].shape == (2, 256)  # 8 x 32 x 32 = 8192 wide, projected
    assert a["block2"].shape == (2, 256)  # 32 x 8 x 8 = 2048 wide, projected
    assert raw.shape == (2, 8 * 32 * 32)
    torch.testing.assert_close(a["block0"], b["block0"], rtol=0, atol=0)
    narrow = obs.features(x32, ["block2"], pooling="project", project_dim=4096)["block2"]
    assert narrow.shape == (2, 2048)  # narrower than project_dim: left as is
    # the count sketch preserves inner products in expectation: a sum over buckets of signed units
    sketched = pool_output(raw.reshape(2, 8, 32, 32), "project", project_dim=256)
    torch.testing.assert_close(sketched, a["block0"], rtol=0, atol=1e-5)
    other_seed = pool_output(raw.reshape(2, 8, 32, 32), "project", project_dim=256, seed=1)
    assert not torch.allclose(other_seed, sketched)


def test_flattened_tokens_unflatten_to_the_observers_token_sequences(cnn_file: Path, x32: torch.Tensor) -> None:
    """``unflatten_tokens`` with ``token_layout`` inverts the "tokens" pooling: a CNN map comes back as
    ``Observer.tokens`` gives it (positions x channels), and so do a ViT's patch tokens."""
    obs = load_observer(f"py:{cnn_file}:build")
    with torch.no_grad():
        flat = obs.features(x32, ["block2"], pooling="tokens")["block2"].numpy()
        expected = obs.tokens(x32, "block2").numpy()  # [2, 64, 32]
    assert obs.token_layout("block2", size=32) == (32, 8, 8)
    assert obs.token_layout("block2") == (32, 56, 56)  # the contract's 224 px
    np.testing.assert_array_equal(unflatten_tokens(flat, obs.token_layout("block2", size=32)), expected)
    tokens = torch.randn(2, 5, 4)
    assert unflatten_tokens(pool_output(tokens, "tokens", prefix_tokens=1).numpy(), (4, 4)).tolist() == \
        tokens[:, 1:].tolist()
    two_frames = np.concatenate([flat, flat], axis=1)  # an image model's per-frame rows of one clip
    assert unflatten_tokens(two_frames, (32, 8, 8)).shape == (2, 128, 32)
    with pytest.raises(LayerError, match="not a multiple"):
        unflatten_tokens(flat[:, :-1], (32, 8, 8))


def test_token_pooling_rules() -> None:
    tokens = torch.randn(2, 5, 4)
    torch.testing.assert_close(pool_output(tokens, "mean", prefix_tokens=1), tokens[:, 1:].mean(1))
    torch.testing.assert_close(pool_output(tokens, "cls", prefix_tokens=1), tokens[:, 0])
    assert pool_output(tokens, "tokens", prefix_tokens=1).shape == (2, 16)
    with pytest.raises(LayerError, match="CLS"):
        pool_output(tokens, "cls", prefix_tokens=0)
    video_map = torch.randn(2, 3, 4, 5, 5)
    torch.testing.assert_close(pool_output(video_map, "mean"), video_map.mean((2, 3, 4)))


def test_image_model_given_clips_averages_frames(cnn_file: Path) -> None:
    obs = load_observer(f"py:{cnn_file}:build|size=32")
    clip = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        per_clip = obs.features(clip, ["final"])["final"]
        frames = torch.stack([obs.features(clip[:, :, t], ["final"])["final"] for t in range(4)], 1)
    torch.testing.assert_close(per_clip, frames.mean(1), rtol=0, atol=1e-6)


def test_video_override_makes_static_clips(tmp_path: Path) -> None:
    file = tmp_path / "clipnet.py"
    file.write_text("from torch import nn\n\ndef build():\n"
                    "    return nn.Sequential(nn.Conv3d(3, 4, 3, padding=1), nn.AdaptiveAvgPool3d(1), nn.Flatten())\n")
    obs = load_observer(f"py:{file}:build|size=16,kind=video,frames=3")
    assert obs.is_video and obs.contract.frames == 3
    image = torch.randn(2, 3, 16, 16)
    assert obs.prepare(image).shape == (2, 3, 3, 16, 16)
    assert obs.prepare(torch.randn(2, 3, 7, 16, 16)).shape == (2, 3, 3, 16, 16)  # resampled in time
    with torch.no_grad():
        assert obs.features(image, ["final", "0"])["0"].shape == (2, 4)
    assert obs.num_classes is None and not obs.has_imagenet_logits  # no Linear: no classifier
    with pytest.raises(LayerError, match="no classifier"):
        obs.logits(image)


# -- 5. strict loading --------------------------------------------------------------------------------
def test_pth_is_read_with_weights_only(tmp_path: Path, cnn_file: Path) -> None:
    model = load_observer(f"py:{cnn_file}:build").module
    good = tmp_path / "good.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}, good)
    state = read_state_dict(good)  # wrapper unwrapped, DDP prefix stripped
    assert set(state) == set(model.state_dict())
    evil = tmp_path / "evil.pth"
    torch.save({"weights": model.state_dict(), "net": nn.ReLU()}, evil)  # a module object: needs full unpickling
    with pytest.raises(CheckpointError) as err:
        read_state_dict(evil)
    message = str(err.value)
    assert str(evil) in message and "cannot read weights" in message and "\n" not in message
    odd = tmp_path / "odd.pth"
    torch.save({"conv": torch.zeros(1), "epoch": 3}, odd)
    with pytest.raises(CheckpointError, match="not a state dict of tensors"):
        read_state_dict(odd)
    with pytest.raises(CheckpointError, match=r"unsupported weights file type '\.ckpt'"):
        (tmp_path / "w.ckpt").write_bytes(b"x")
        read_state_dict(tmp_path / "w.ckpt")
    with pytest.raises(FileNotFoundError, match="weights file not found"):
        read_state_dict(tmp_path / "absent.safetensors")
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError, match="garbage.safetensors: cannot read weights"):
        read_state_dict(garbage)


def test_load_model_names_only_the_file_it_names(tmp_path: Path) -> None:
    import humanalign

    folder = tmp_path / "dir"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"a sibling that must not be read")
    torch.save({"w": torch.zeros(1)}, folder / "rand.pth")
    with pytest.raises(CheckpointError, match=r"rand\.pth: a bare weights file has no architecture: use timm:NAME@FILE"):
        humanalign.load_model(folder / "rand.pth")
    (folder / "notes.txt").write_text("x")
    with pytest.raises(CheckpointError, match="not a model file"):
        humanalign.load_model(str(folder / "notes.txt"))


# -- 7. determinism ------------------------------------------------------------------------------------
def test_random_init_is_seeded_and_leaves_the_global_rng_alone(cnn_file: Path) -> None:
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    a = load_observer(f"py:{cnn_file}:build")
    b = load_observer(f"py:{cnn_file}:build")
    assert torch.equal(torch.get_rng_state(), before)
    assert a.weights_hash == b.weights_hash and len(a.weights_hash) == 64
    other = load_observer(f"py:{cnn_file}:build_imagenet")
    assert other.weights_hash != a.weights_hash
    assert a.describe()["weights_hash"] == a.weights_hash and a.describe()["observer"] == a.id


def test_load_observers_uses_user_names(cnn_file: Path) -> None:
    observers = load_observers({"mine": f"py:{cnn_file}:build", "big": f"py:{cnn_file}:build_imagenet"})
    assert [o.id for o in observers] == ["mine", "big"]
    assert observers[0].spec == f"py:{cnn_file}:build"


# -- list layers ---------------------------------------------------------------------------------------
def test_list_layers_prints_the_table_and_the_contract(cnn_file: Path, capsys: pytest.CaptureFixture) -> None:
    from humanalign.__main__ import main

    assert main(["list", "layers", f"py:{cnn_file}:build|size=48"]) == 0
    out = capsys.readouterr().out
    assert "contract: image 48px" in out and "mean 0.485/0.456/0.406" in out
    rows = [line.split() for line in out.splitlines() if not line.startswith("#")]
    assert rows[0] == ["layer", "module", "type"]
    assert ["block1", "stage1", "Sequential"] in rows and ["stage1.0", "stage1.0", "Conv2d"] in rows
    assert ["fc", "fc", "Linear"] in rows and rows[1][0] == "final"


def test_list_layers_errors_are_one_line(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    from humanalign.__main__ import main

    assert main(["list", "layers"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["list", "layers", f"py:{tmp_path}/none.py:build"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "none.py: Python file not found" in err and err.count("\n") == 1
