"""The SLURM launcher without SLURM: node lists, resources, the dry run's sbatch script, job graphs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from humanalign.launch import (
    JobNode,
    LaunchError,
    LaunchJob,
    Resources,
    graph_order,
    parse_node_list,
    parse_sbatch_extras,
    parse_time_minutes,
    rendezvous_from_env,
    sbatch_script,
    strip_launcher_args,
    submit_graph,
)
from humanalign.pretrain.cli import main as pretrain_main


def _sbatch(text: str) -> dict[str, str]:
    """``#SBATCH --key=value`` lines as a dict (bare flags map to "")."""
    out = {}
    for line in text.splitlines():
        match = re.match(r"#SBATCH --([\w-]+)(?:=(.*))?$", line)
        if match:
            out[match.group(1)] = match.group(2) or ""
    return out


def test_node_lists_expand_like_scontrol_show_hostnames() -> None:
    assert parse_node_list("gpu[001-003,010],login") == ["gpu001", "gpu002", "gpu003", "gpu010", "login"]
    assert parse_node_list("a1") == ["a1"]
    assert parse_node_list("n[8-9]-ib,x[1,3]") == ["n8-ib", "n9-ib", "x1", "x3"]
    assert parse_node_list("") == []
    for bad in ("gpu[1-", "gpu[a-b]", "gpu[3-1]", "gpu[1][2]"):
        with pytest.raises(ValueError):
            parse_node_list(bad)


def test_rendezvous_is_the_first_host_and_a_port_from_the_job_id() -> None:
    env = {"SLURM_JOB_NODELIST": "node[07-10]", "SLURM_NODEID": "2", "SLURM_JOB_ID": "123456"}
    rdzv = rendezvous_from_env(env)
    assert (rdzv.nnodes, rdzv.node_rank, rdzv.host, rdzv.run_id) == (4, 2, "node07", "123456")
    assert rdzv.endpoint == f"node07:{29500 + 123456 % 10000}"
    assert rendezvous_from_env({}).nnodes == 1
    job = LaunchJob("humanalign.pretrain", ["egocentric", "--out", "r"], nproc_per_node=8, nodes=4, rdzv=rdzv)
    cmd = job.command()
    assert cmd[1:3] == ["-m", "humanalign.launch.agent"]  # the preemption signal is left to submitit's task
    i = cmd.index("torch.distributed.run")
    assert cmd[i + 1:i + 7] == ["--nproc_per_node=8", "--nnodes=4", "--node_rank=2", "--rdzv_backend=c10d",
                                f"--rdzv_endpoint={rdzv.endpoint}", "--rdzv_id=123456"]
    assert cmd[-5:] == ["-m", "humanalign.pretrain", "egocentric", "--out", "r"]


def test_time_and_sbatch_extras_parse() -> None:
    assert [parse_time_minutes(t) for t in ("90", "2:00:00", "1-12:00:00", "1-12", "10:30")] == [90, 120, 2160,
                                                                                                 2160, 11]
    with pytest.raises(LaunchError):
        parse_time_minutes("two hours")
    assert parse_sbatch_extras(["qos=high", "--exclusive", "mail_type=END"]) == {
        "qos": "high", "exclusive": True, "mail-type": "END"}
    with pytest.raises(LaunchError):
        parse_sbatch_extras(["=x"])
    with pytest.raises(LaunchError):
        Resources(nodes=0)


def test_launcher_options_are_stripped_from_the_job_command() -> None:
    argv = ["egocentric", "--launcher", "slurm", "--nodes=4", "--gpus-per-node", "8", "--preset", "tiny",
            "--sbatch", "qos=high", "--sbatch=exclusive", "--dry-run", "--part", "gpu", "steps=3"]
    assert strip_launcher_args(argv) == ["egocentric", "--preset", "tiny", "steps=3"]


def test_pretrain_slurm_dry_run_prints_a_valid_submitit_job(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = pretrain_main(["egocentric", "--data", str(tmp_path / "videos"), "--preset", "hvm1-224",
                          "--out", str(tmp_path / "runs" / "hvm1"), "--launcher", "slurm", "--nodes", "4",
                          "--gpus-per-node", "8", "--partition", "gpu", "--account", "lab", "--time", "2-00:00:00",
                          "--mem", "400G", "--sbatch", "qos=high", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0, out
    flags = _sbatch(out)
    assert flags["nodes"] == "4" and flags["gpus-per-node"] == "8" and flags["ntasks-per-node"] == "1"
    assert flags["time"] == "2880" and flags["partition"] == "gpu" and flags["account"] == "lab"
    assert flags["mem"] == "400G" and flags["qos"] == "high" and flags["signal"].startswith("USR2@")
    assert flags["output"].startswith(str(tmp_path / "runs" / "hvm1" / "jobs"))
    assert "-m submitit.core._submit" in out and out.count("#!/bin/bash") == 1
    node_cmd = out.split("# each node's task runs: ")[1]
    assert "--nnodes=4" in node_cmd and "--nproc_per_node=8" in node_cmd and "--rdzv_backend=c10d" in node_cmd
    assert "--launcher" not in node_cmd and "--dry-run" not in node_cmd
    assert f"--out {tmp_path / 'runs' / 'hvm1'}" in node_cmd
    assert "world_size=32" in out
    assert not (tmp_path / "runs" / "hvm1" / "jobs").exists()  # nothing submitted, nothing written


def test_pretrain_launcher_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    base = ["egocentric", "--preset", "tiny", "--out", str(tmp_path / "r"), "--dry-run"]
    for extra, words in ((["--launcher", "slurm", "--nodes", "0"], "--nodes"),
                         (["--launcher", "slurm", "--time", "soon"], "--time"),
                         (["--launcher", "local", "--nodes", "2"], "this machine"),
                         (["--launcher", "torchrun", "--nodes", "2"], "--rdzv-endpoint")):
        code = pretrain_main(base + extra)
        err = capsys.readouterr().err.strip()
        assert code == 2, (extra, err)
        assert len(err.splitlines()) == 1 and words in err, err


def test_torchrun_dry_run_prints_the_command(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    code = pretrain_main(["egocentric", "--preset", "tiny", "--out", str(tmp_path / "r"), "--launcher", "torchrun",
                          "--procs-per-node", "2", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0
    assert "torch.distributed.run --nproc_per_node=2 --standalone -m humanalign.pretrain egocentric" in out


def test_job_graph_orders_and_writes_afterok_dependencies(tmp_path: Path) -> None:
    def node(name: str, after: list[str]) -> JobNode:
        return JobNode(name, LaunchJob("humanalign.pretrain", ["list"]), Resources(gpus_per_node=1), after)

    nodes = [node("compare", ["stmae", "imagemae"]), node("stmae", []), node("imagemae", []), node("report", ["compare"])]
    assert [n.name for n in graph_order(nodes)] == ["stmae", "imagemae", "compare", "report"]
    scripts = submit_graph("slurm", tmp_path, nodes, dry_run=True)
    assert "dependency" not in _sbatch(scripts["stmae"])
    assert _sbatch(scripts["compare"])["dependency"] == "afterok:@stmae:@imagemae"
    assert _sbatch(scripts["report"])["dependency"] == "afterok:@compare"
    with pytest.raises(LaunchError, match="cycle"):
        graph_order([node("a", ["b"]), node("b", ["a"])])
    with pytest.raises(LaunchError, match="unknown"):
        graph_order([node("a", ["zzz"])])
    assert "--gpus-per-node=1" in sbatch_script(tmp_path, Resources(gpus_per_node=1))


def test_estimate_gpu_hours_from_counted_flops(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from types import SimpleNamespace

    from humanalign.launch.estimate import clip_flops, estimate_run
    from humanalign.launch.estimate import main as estimate_main

    cfg = SimpleNamespace(data=SimpleNamespace(batch_size=4, repeats=16), optim=SimpleNamespace(accum_steps=1),
                          steps=100_000)
    row = estimate_run(1e12, cfg, gpus=8, mfu=0.5, peak=1000e12)
    assert row["clips_per_gpu_step"] == 64 and row["step_s"] == pytest.approx(64e12 / 500e12)
    assert row["gpu_hours"] == pytest.approx(0.128 * 100_000 * 8 / 3600)
    tiny, _ = clip_flops("egocentric", "tiny")
    image, _ = clip_flops("imagemae", "tiny")
    assert tiny > image > 0  # clips of 8 frames cost more than single frames through the same encoder

    study = tmp_path / "study.yaml"
    study.write_text("pretrain:\n  - {name: a, method: egocentric, preset: tiny}\n"
                     "  - {name: b, method: synthetic, preset: tiny, stage: 2}\n")
    assert estimate_main([str(study), "--gpu", "H100", "--mfu", "0.4", "--json", str(tmp_path / "rows.json")]) == 0
    out = capsys.readouterr().out
    assert "ASSUMED MFU 40%" in out and "| a | egocentric / tiny |" in out and "**total**" in out
    assert estimate_main([str(study), "--gpu", "TPU"]) == 2
