"""CPU training in 1-thread ranks: fit and throughput split the batch over spawned DDP ranks, a rank's
error is the command's one-line error, and an interrupt ends every rank."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.datasets import make_tiny_cache
from support.signals import signal_when
from portrait_mobile.checkpoint import Checkpoint
from portrait_mobile.train.cli import main as train_main
from portrait_mobile.train.ranks import default_procs, rank0_values, run_ranks
from portrait_mobile.train.trainer import TrainConfig, rank_batch


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_cache(tmp_path_factory.mktemp("data"), n=12)


def test_the_batch_splits_over_cpu_ranks_only() -> None:
    cfg = TrainConfig(cache="c.npz", batch_size=32, procs=2)
    assert rank_batch(cfg, 2) == 16
    assert rank_batch(TrainConfig(cache="c.npz", batch_size=32), 4) == 32  # torchrun GPUs: a batch each
    with pytest.raises(Exception, match="does not split over 2 processes"):
        rank_batch(TrainConfig(cache="c.npz", batch_size=3, procs=2), 2)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert default_procs(threads=2) == 1  # a thread count asked for keeps one process, as before
    assert default_procs(threads=0) == cores
    gb = 1 << 30
    # Each rank decodes its own copy of the cache: as many as 80% of the available memory holds.
    assert default_procs(0, cache_bytes=3 * gb, available=24 * gb) == min(cores, 4)
    assert default_procs(0, cache_bytes=3 * gb, available=4 * gb) == 1  # never none
    assert default_procs(0, cache_bytes=None, available=4 * gb) == cores  # unreadable: fit says why


def test_decoded_bytes_reads_the_header(cache: Path, tmp_path: Path) -> None:
    from portrait_mobile.data.cache import decoded_bytes, load_cache

    c = load_cache(cache, progress=False)
    assert decoded_bytes(cache) == c.images.nbytes + c.masks.nbytes + c.teacher.nbytes
    (tmp_path / "bad.npz").write_bytes(b"junk")
    assert decoded_bytes(tmp_path / "bad.npz") is None and decoded_bytes(tmp_path / "none.npz") is None


def test_fit_in_two_ranks(cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert train_main(["fit", "--cache", str(cache), "--model", "portrait-xs-256", "--epochs", "2",
                       "--batch-size", "4", "--procs", "2", "--out", str(out), "--no-progress"]) == 0
    info = Checkpoint.load(out / "best.pt").train_info
    assert info["world_size"] == 2 and info["train_config"]["procs"] == 2
    assert info["train_config"]["batch_size"] == 4  # the batch of the run, split 2 + 2
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2] and all(h["threads"] == 1 for h in history)
    assert (out / "last.pt").is_file()


@pytest.mark.parametrize("argv, message", [
    (["--cache", "{missing}"], "training cache not found"),  # raised inside each rank
    (["--cache", "{cache}", "--batch-size", "3"], "does not split over 2 processes"),  # before any rank
])
def test_a_rank_error_is_one_line(argv: list[str], message: str, cache: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a.format(missing=tmp_path / "nope.npz", cache=cache) for a in argv]
    out = tmp_path / "run"
    assert train_main(["fit", *argv, "--procs", "2", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def _children(pid: int) -> set[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return set()
    return {int(p) for p in text.split()}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads child processes from Linux /proc")
def test_an_interrupt_ends_every_rank(cache: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "portrait_mobile.train.cli", "fit", "--cache", str(cache), "--model",
           "portrait-xs-256", "--epochs", "1000", "--batch-size", "4", "--procs", "2", "--out", str(out),
           "--no-progress"]
    ranks: set[int] = set()

    def training(proc: subprocess.Popen) -> bool:  # an epoch done: both ranks are in the loop
        ranks.update(_children(proc.pid))
        return (out / "last.pt").is_file()

    status, err = signal_when(cmd, training, wait_s=240)
    assert status == 143, err
    assert "terminated" in err and "Traceback" not in err and "leaked" not in err, err
    time.sleep(0.5)
    assert len(ranks) >= 2 and not [p for p in ranks if _alive(p)]
    Checkpoint.load(out / "last.pt")  # what was written is whole


def test_throughput_in_two_ranks(cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "t.json"
    assert train_main(["throughput", "--cache", str(cache), "--model", "portrait-xs-256", "--batch-size", "4",
                       "--steps", "1", "--warmup", "1", "--procs", "2", "--beside-busy", "--json", str(report)]) == 0
    quiet, busy = json.loads(report.read_text())  # one launch of the ranks measures both conditions
    assert (quiet["condition"], busy["condition"]) == ("as found", "beside a busy process")
    assert all(r["procs"] == 2 and r["threads"] == 1 and r["images_per_s"] > 0 for r in (quiet, busy))
    assert capsys.readouterr().out.count("2 processes x 1 thread(s)") == 2


def _clock_of_rank() -> list:
    import torch.distributed as dist

    dist.init_process_group("gloo")
    rank = dist.get_rank()
    try:
        seen = rank0_values((100.0 + rank, 7.5 * (rank + 1)), dist.get_world_size())
        every: list = [None] * dist.get_world_size()
        dist.all_gather_object(every, seen)  # rank 0 returns what each rank saw
        return every
    finally:
        dist.destroy_process_group()


def test_every_rank_plans_from_rank_0s_clock() -> None:
    # Ranks whose clocks differ (they start seconds apart) must still agree on the time budget's epoch
    # count: a rank planning one epoch more waits at the last barrier for the other, forever.
    assert run_ranks(_clock_of_rank, (), procs=2, nice=0) == [(100.0, 7.5), (100.0, 7.5)]
    assert rank0_values((3.0, 4.0), world=1) == (3.0, 4.0)


def test_throughput_never_writes_its_report_over_the_cache(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = cache.read_bytes()
    assert train_main(["throughput", "--cache", str(cache), "--steps", "1", "--json", str(cache)]) == 2
    assert f"--json {cache} would overwrite the input --cache" in capsys.readouterr().err
    assert cache.read_bytes() == before
