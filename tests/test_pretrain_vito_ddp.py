"""Two CPU processes under torchrun (gloo): VITO's gathered negatives give the global batch's loss and gradient.

Run as a script by ``torchrun`` (see :func:`main`): each rank takes its half of one fixed batch of
embeddings, computes :meth:`VITO.contrastive_loss` with negatives gathered from both ranks, and writes
whether its loss and its (DDP-averaged) gradient match a single-process computation on the whole batch.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> None:
    """``torchrun ... test_pretrain_vito_ddp.py OUT``: compare gathered and whole-batch InfoNCE on this rank."""
    import torch.distributed as dist

    from humanalign.models.vit import EncoderConfig
    from humanalign.pretrain.vito import VITO, VITOConfig, info_nce, video_groups

    dist.init_process_group("gloo")
    try:
        rank, world = dist.get_rank(), dist.get_world_size()
        vito = VITO(EncoderConfig(embed_dim=32, depth=1, num_heads=2, img_size=32, video=False), VITOConfig())
        g = torch.Generator().manual_seed(0)
        z_a, z_b = (F.normalize(torch.randn(4 * world, 8, generator=g), dim=1) for _ in range(2))
        paths = [f"v{i}.mp4" for i in (0, 1, 1, 2, 2, 3, 4, 4)][:2 * world]  # 2 items x 2 clips per rank
        mine = slice(4 * rank, 4 * (rank + 1))
        local_a, local_b = z_a[mine].clone().requires_grad_(), z_b[mine].clone().requires_grad_()
        loss = vito.contrastive_loss(local_a, local_b, paths[2 * rank:2 * (rank + 1)])
        loss.backward()
        mean_loss = loss.detach().clone()
        dist.all_reduce(mean_loss)
        mean_loss /= world
        whole_a, whole_b = z_a.clone().requires_grad_(), z_b.clone().requires_grad_()
        whole = info_nce(whole_a, whole_b, 0.1, video_groups(paths, 4 * world))
        whole.backward()
        # DDP averages parameter gradients over ranks; each rank's rows receive every rank's share, so the
        # local gradient is world x the whole-batch gradient of those rows before that average.
        ok = (torch.allclose(mean_loss, whole.detach(), rtol=1e-5)
              and torch.allclose(local_a.grad / world, whole_a.grad[mine], atol=1e-6)
              and torch.allclose(local_b.grad / world, whole_b.grad[mine], atol=1e-6))
        Path(argv[0], f"rank{rank}.txt").write_text(f"{ok} {loss.item()} {whole.item()}\n")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_process_gloo_gathered_negatives_match_the_global_batch(tmp_path: Path) -> None:
    from tests.test_pretrain_ddp import run_torchrun

    proc = run_torchrun(Path(__file__), [str(tmp_path)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    for r in range(2):
        ok, local, whole = (tmp_path / f"rank{r}.txt").read_text().split()
        assert ok == "True", (local, whole)
    assert float(local) != pytest.approx(float(whole), rel=1e-3)  # a rank's own loss differs from the mean


if __name__ == "__main__":
    main(sys.argv[1:])
