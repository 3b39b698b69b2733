"""Released-model registry: entry metadata, the listing CLI, missing-file errors, and the real download
code against a local http.server on 127.0.0.1 serving a tiny checkpoint written by the test."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import threading
from pathlib import Path

import pytest
import torch

from humanalign.__main__ import main as cli_main
from humanalign.io.checkpoints import CheckpointError
from humanalign.models import load_model
from humanalign.models.released import RELEASED, CheckpointNotFoundError, ReleasedModel, build_released
from humanalign.registry import MODELS

D, HEADS, P, TUB, S, FRAMES = 16, 2, 8, 2, 16, 4


@pytest.fixture(autouse=True)
def _one_thread(_few_threads: None) -> None:
    """Tiny models run fastest on one thread; two threads thrash when the CI machine is busy."""
    torch.set_num_threads(1)


def _tiny_hvm1_file(path: Path, classes: int | None = None) -> Path:
    """A tiny file in the HVM-1 layout (weights under 'model', separate q/k/v, separable positions)."""
    torch.manual_seed(0)
    st = {"patch_embed.proj.weight": torch.randn(D, 3, TUB, P, P) * 0.1, "patch_embed.proj.bias": torch.zeros(D),
          "cls_token": torch.randn(1, 1, D), "pos_embed_spatial": torch.randn(1, 4, D),
          "pos_embed_temporal": torch.randn(1, 2, D), "pos_embed_class": torch.randn(1, 1, D),
          "norm.weight": torch.ones(D), "norm.bias": torch.zeros(D), "mask_token": torch.zeros(1, 1, 8)}
    b = "blocks.0"
    for name in ("norm1", "norm2"):
        st[f"{b}.{name}.weight"], st[f"{b}.{name}.bias"] = torch.ones(D), torch.zeros(D)
    for name, (o, i) in {"attn.q": (D, D), "attn.k": (D, D), "attn.v": (D, D), "attn.proj": (D, D),
                         "mlp.fc1": (4 * D, D), "mlp.fc2": (D, 4 * D)}.items():
        st[f"{b}.{name}.weight"], st[f"{b}.{name}.bias"] = torch.randn(o, i) * 0.1, torch.zeros(o)
    if classes:
        st["head.weight"], st["head.bias"] = torch.randn(classes, D) * 0.1, torch.zeros(classes)
    torch.save({"model": st, "epoch": 1}, path)
    return path


def _tiny_spec(url: str | None, filename: str, sha256: str | None = None, classes: int | None = None) -> ReleasedModel:
    arch = dict(embed_dim=D, depth=1, num_heads=HEADS, patch_size=P, img_size=S, num_frames=FRAMES, cls_token=True)
    return dataclasses.replace(RELEASED["hvm1"], name="hvm1_tiny", architecture=arch, filename=filename, url=url,
                               sha256=sha256, num_classes=classes)


@pytest.fixture()
def ckpt_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "ckpts"
    monkeypatch.setenv("HUMANALIGN_CHECKPOINTS", str(folder))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # ~/.cache/humanalign inside the test folder
    return folder


@pytest.fixture()
def file_server(tmp_path):
    """Serve tmp_path/served on 127.0.0.1 (an ephemeral port); yields (folder, base address)."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args, **kwargs: None  # keep test output quiet
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_registry_holds_every_released_family_with_complete_metadata():
    names = set(MODELS.list())
    for required in ("hvm1", "hvm1@448", "kinetics", "hvm1-ssv2-10shot", "hvm1-kinetics-50shot", "hvm1-imagenet-2pt",
                     "kinetics-ssv2-10shot", "hvm1@448-ssv2-50shot", "mae-st-l-k400", "mae-st-h-k700",
                     "videomae-b-k400", "videomae-b-ssv2-ft", "videomae2-b-k710-distill", "vjepa-l16",
                     "vjepa-h16-384", "vjepa-l16-k400-probe", "mae-image-b", "timm-vit_base_patch16_224.mae",
                     "vit_test_video", "vit_test_image"):
        assert required in names, required
    for name, spec in RELEASED.items():
        meta = MODELS.meta(name)
        for key in ("architecture", "source", "filename", "licence", "input_mean", "input_std", "frame_sampling"):
            assert meta[key] not in (None, ""), (name, key)
        assert meta["source"].startswith("https://"), name
        assert meta["url"] is None or meta["url"].startswith("https://"), name
        assert (meta["modality"] == "video") == bool(spec.frame_sampling), name
    assert MODELS.meta("hvm1")["url"] == "https://huggingface.co/eminorhan/hvm-1/resolve/main/hvm1_none.pth"
    assert MODELS.meta("hvm1-ssv2-10shot")["num_classes"] == 174
    assert MODELS.meta("mae-st-l-k400")["md5_prefix"] == "edf3a5"


def test_list_models_cli_prints_every_model_with_its_source(capsys):
    assert cli_main(["list", "models"]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert len(lines) == len(MODELS.list()) + 1  # header + one line per model
    for line in lines[1:]:
        name = line.split()[0]
        assert name in MODELS, name
        source = MODELS.meta(name)["source"]
        assert line.rstrip().endswith(source), line
    assert "https://huggingface.co/eminorhan/hvm-1/resolve/main/kinetics_none.pth" in out


def test_missing_file_offline_names_address_and_folders(ckpt_dir, monkeypatch):
    monkeypatch.setenv("HUMANALIGN_OFFLINE", "1")
    with pytest.raises(CheckpointNotFoundError) as info:
        load_model("hvm1")
    message = str(info.value)
    assert "https://huggingface.co/eminorhan/hvm-1/resolve/main/hvm1_none.pth" in message
    assert str(ckpt_dir) in message and ".cache/humanalign" in message and "hvm1_none.pth" in message
    with pytest.raises(FileNotFoundError, match="MODEL_ZOO.md"):  # no direct address: the page is named
        load_model("videomae-b-k400")


def test_found_file_is_converted_and_loaded(ckpt_dir):
    ckpt_dir.mkdir(parents=True)
    _tiny_hvm1_file(ckpt_dir / "tiny_ft.pth", classes=3)
    enc = build_released(_tiny_spec(None, "tiny_ft.pth", classes=3), allow_download=False)
    assert not enc.training and enc.head.out_features == 3 and enc.model_name == "hvm1_tiny"
    with torch.no_grad():
        logits = enc.head(enc.encode(torch.randn(2, 3, FRAMES, S, S), pool="cls"))
    assert logits.shape == (2, 3) and torch.isfinite(logits).all()


def test_download_from_local_server_then_reuse(ckpt_dir, file_server):
    served, base = file_server
    data = _tiny_hvm1_file(served / "tiny.pth").read_bytes()
    spec = _tiny_spec(f"{base}/tiny.pth", "tiny.pth", sha256=hashlib.sha256(data).hexdigest())
    enc = build_released(spec, allow_download=True)
    assert (ckpt_dir / "tiny.pth").read_bytes() == data
    assert enc.checkpoint_path == str(ckpt_dir / "tiny.pth")
    (served / "tiny.pth").unlink()  # second build must use the local copy, not the server
    again = build_released(spec, allow_download=True)
    for key, value in enc.state_dict().items():
        torch.testing.assert_close(again.state_dict()[key], value)


def test_download_with_wrong_checksum_leaves_nothing(ckpt_dir, file_server):
    served, base = file_server
    _tiny_hvm1_file(served / "tiny.pth")
    spec = _tiny_spec(f"{base}/tiny.pth", "tiny.pth", sha256="0" * 64)
    with pytest.raises(CheckpointNotFoundError, match="SHA-256"):
        build_released(spec, allow_download=True)
    assert not (ckpt_dir / "tiny.pth").exists() and not (ckpt_dir / "tiny.pth.part").exists()


def test_download_of_absent_address_reports_url(ckpt_dir, file_server):
    _, base = file_server
    spec = _tiny_spec(f"{base}/missing.pth", "missing.pth")
    with pytest.raises(CheckpointNotFoundError, match=f"{base}/missing.pth"):
        build_released(spec, allow_download=True)


def test_a_file_that_does_not_fit_the_entry_is_an_error_naming_file_and_mismatch(ckpt_dir):
    """Shapes in the file never silently replace the entry's architecture (a ViT-S file in a ViT-B entry
    would build a model with the wrong head count)."""
    ckpt_dir.mkdir(parents=True)
    _tiny_hvm1_file(ckpt_dir / "tiny.pth")
    spec = _tiny_spec(None, "tiny.pth")
    wrong = dataclasses.replace(spec, architecture={**spec.architecture, "img_size": 224, "num_frames": 16})
    with pytest.raises(CheckpointError, match=r"tiny\.pth: does not fit the architecture: .*img_size=224"):
        build_released(wrong, allow_download=False)


def test_load_model_by_registry_name_reads_the_file_from_the_checkpoint_folder(ckpt_dir, monkeypatch):
    """``load_model("hvm1")`` end to end on a tiny file saved under the release's file name (the entry's
    architecture is shrunk to the tiny file's, as the strict rule requires)."""
    from humanalign.models import released

    ckpt_dir.mkdir(parents=True)
    _tiny_hvm1_file(ckpt_dir / "hvm1_none.pth")
    tiny = dataclasses.replace(RELEASED["hvm1"], architecture={**_tiny_spec(None, "x").architecture, "num_heads": 16})
    monkeypatch.setitem(released.RELEASED, "hvm1", tiny)
    enc = load_model("hvm1")
    assert enc.model_name == "hvm1" and enc.embed_dim == D and enc.cfg.num_heads == 16 and enc.head is None
    assert enc.released["url"].endswith("hvm1_none.pth") and not enc.training


def test_vjepa_probe_entry_loads_encoder_and_attentive_probe(ckpt_dir):
    from humanalign.models.heads import AttentiveClassifier

    torch.manual_seed(0)
    n = (FRAMES // TUB) * (S // P) ** 2
    st = {"patch_embed.proj.weight": torch.randn(D, 3, TUB, P, P) * 0.1, "patch_embed.proj.bias": torch.zeros(D),
          "pos_embed": torch.randn(1, n, D), "norm.weight": torch.ones(D), "norm.bias": torch.zeros(D)}
    for name in ("norm1", "norm2"):
        st[f"blocks.0.{name}.weight"], st[f"blocks.0.{name}.bias"] = torch.ones(D), torch.zeros(D)
    for name, (o, i) in {"attn.qkv": (3 * D, D), "attn.proj": (D, D), "mlp.fc1": (4 * D, D),
                         "mlp.fc2": (D, 4 * D)}.items():
        st[f"blocks.0.{name}.weight"], st[f"blocks.0.{name}.bias"] = torch.randn(o, i) * 0.1, torch.zeros(o)
    ckpt_dir.mkdir(parents=True)
    torch.save({"target_encoder": {f"module.backbone.{k}": v for k, v in st.items()}, "epoch": 1},
               ckpt_dir / "tiny-vjepa.pth.tar")
    probe = AttentiveClassifier(D, HEADS, 4)
    torch.save({"classifier": {f"module.{k}": v for k, v in probe.state_dict().items()}, "epoch": 3},
               ckpt_dir / "tiny-vjepa-probe.pth.tar")
    spec = dataclasses.replace(
        RELEASED["vjepa-l16-k400-probe"], name="vjepa_tiny", filename="tiny-vjepa.pth.tar", url=None,
        architecture={**RELEASED["vjepa-l16"].architecture, "num_heads": HEADS, "embed_dim": D, "depth": 1,
                      "patch_size": P, "img_size": S, "num_frames": FRAMES, "tubelet_size": TUB},
        converter_kwargs={"img_size": S}, probe={"filename": "tiny-vjepa-probe.pth.tar", "url": None, "converter": "vjepa_probe"})
    enc = build_released(spec, allow_download=False)
    assert isinstance(enc.head, AttentiveClassifier) and enc.head.linear.out_features == 4
    clip = torch.randn(2, 3, FRAMES, S, S)
    with torch.no_grad():
        logits = enc.head(enc.forward_features(clip))
        expected = probe.eval()(enc.forward_features(clip))
    torch.testing.assert_close(logits, expected)
