"""portrait_mobile.checkpoint: one file of weights, config, metrics; its contract and its terms."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable

import pytest
import torch

from portrait_mobile.checkpoint import DEFAULT_WEIGHTS, Checkpoint
from portrait_mobile.config import ModelConfig, get_config
from portrait_mobile.errors import CheckpointError, ModelLoadError
from portrait_mobile.model import build_model
from portrait_mobile.model_card import CARD_NAME, WEIGHTS_LICENSE
from support import REPO
from support.hostile import payload_checkpoint, raw_checkpoint

TINY = ModelConfig(name="tiny-ck", widths=(4, 8, 8, 16, 16), decoder_widths=(8, 8, 4), refine_width=4,
                   input_size=(32, 32))


def test_a_registered_name_on_another_architecture_is_refused(tmp_path: Path) -> None:
    cfg = replace(get_config("portrait-s-256"), global_context=24)  # what portrait-sgc-256 is
    path = tmp_path / "mislabelled.pt"
    Checkpoint(cfg, build_model(cfg).state_dict()).save(path)
    with pytest.raises(CheckpointError, match="named 'portrait-s-256' but is not the registered.*global_context 24"):
        Checkpoint.load(path)
    renamed = tmp_path / "renamed.pt"
    Checkpoint(replace(cfg, name="portrait-sgc-256"), build_model(cfg).state_dict()).save(renamed)
    assert Checkpoint.load(renamed).config == get_config("portrait-sgc-256")


def test_contract_terms_follow_the_training_sources(tmp_path: Path) -> None:
    state = build_model(TINY).state_dict()
    ours = Checkpoint(TINY, state, train_info={"sources": ["pfcn/train", "voc_person/train"]}).contract()
    assert (ours.license, ours.model_card) == (WEIGHTS_LICENSE, CARD_NAME)
    mine = Checkpoint(TINY, state, train_info={"sources": ["shop/train"]}).contract()
    assert "shop/train" in mine.license and mine.model_card == "" and mine.license != WEIGHTS_LICENSE
    unknown = Checkpoint(TINY, state).contract()
    assert "not recorded" in unknown.license and unknown.model_card == ""


# --- issue 24: no code runs from a checkpoint, at any entry point that reads one ---------------------

def _segment(c: dict[str, Path]) -> int:
    from portrait_mobile.runtime.cli import main

    return main([str(c["image"]), "--model", str(c["evil"]), "--effect", "mask", "--out", str(c["out"])])


def _export(c: dict[str, Path]) -> int:
    from portrait_export.cli import main

    return main(["--weights", str(c["evil"]), "--target", "onnx", "--out", str(c["out"])])


def _eval(flag: str) -> Callable[[dict[str, Path]], int]:
    def run(c: dict[str, Path]) -> int:
        from portrait_mobile.evaluation.cli import main

        return main(["--data", f"{c['data']}:train", flag, str(c["evil"]), "--no-progress"])

    return run


def _train(*argv: str) -> Callable[[dict[str, Path]], int]:
    def run(c: dict[str, Path]) -> int:
        from portrait_mobile.train.cli import main

        return main([a.format(**{k: str(v) for k, v in c.items()}) for a in argv])

    return run


ENTRY_POINTS = {
    "portrait-segment --model": _segment,
    "portrait-export --weights": _export,
    "portrait-eval --weights": _eval("--weights"),
    "portrait-eval --model": _eval("--model"),
    "portrait-train fit --init": _train("fit", "--cache", "{cache}", "--init", "{evil}", "--epochs", "1",
                                        "--out", "{out}", "--no-progress"),
    "portrait-train fit --resume": _train("fit", "--cache", "{cache}", "--resume", "{evil}", "--epochs", "1",
                                          "--out", "{out}", "--no-progress"),
    "portrait-train val": _train("val", "{evil}", "--cache", "{cache}"),
    "portrait-train ship": _train("ship", "{evil}", "--dest", "{out}/shipped.pt"),
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from portrait_mobile.data.cache import CacheSource, build_cache
    from support.datasets import make_portrait_folder

    root = tmp_path_factory.mktemp("hostile")
    data = make_portrait_folder(root / "data", n=4, size=(64, 64))
    return {"root": root, "data": data, "image": data / "images" / "0000.jpg",
            "cache": build_cache([CacheSource(data, "train", val_fraction=0.5)], root / "cache.npz", size=64,
                                 progress=False)}


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_a_pickle_payload_never_runs(entry: str, hostile: dict[str, Path], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """issue 24: every command that read a .pt unpickled it in full, running whatever it carried."""
    marker = tmp_path / "code-ran"
    c = {**hostile, "evil": payload_checkpoint(tmp_path / "evil.pt", marker), "out": tmp_path / "out"}
    rc = ENTRY_POINTS[entry](c)
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert not marker.exists(), f"{entry} ran the checkpoint's code"
    assert rc != 0 and len(err) == 1 and ": error: " in err[0] and "refused" in err[0], err
    assert "asks to load the Python object" in err[0] and "Traceback" not in err[0]


@pytest.mark.parametrize("head, kind", [(b"\x1c\x00\x00\x00TFL3" + b"\x00" * 64, "a TFLite model"),
                                        (b'{"schema": 1}', "text, not a PyTorch file"), (b"", "empty")])
def test_a_file_that_is_no_pickle_is_not_called_dangerous(tmp_path: Path, head: bytes, kind: str) -> None:
    """A .tflite passed as weights was 'refused: loading it could run code': it is just not a checkpoint."""
    path = tmp_path / "m.pt"
    path.write_bytes(head)
    with pytest.raises(CheckpointError, match=rf"m.pt is not a portrait-mobile checkpoint: {kind}") as e:
        Checkpoint.load(path)
    assert "run code" not in str(e.value)


def test_segmenter_from_file_refuses_a_pickle_payload(tmp_path: Path) -> None:
    from portrait_mobile.runtime import Segmenter

    marker = tmp_path / "code-ran"
    with pytest.raises(ModelLoadError, match="refused.*asks to load the Python object"):
        Segmenter.from_file(payload_checkpoint(tmp_path / "evil.pt", marker))
    assert not marker.exists()


def test_training_state_loads_without_unpickling_code(tmp_path: Path) -> None:
    """What --resume needs (optimizer and scheduler state, history, RNG state) is plain data and tensors."""
    model = build_model(TINY)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    model(torch.rand(2, 3, 32, 32)).mean().backward()
    opt.step()
    sched.step()
    state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
             "epoch": 1, "history": [{"epoch": 1, "val_score": 0.5}], "best": 0.5, "torch_rng": torch.get_rng_state()}
    Checkpoint(TINY, model.state_dict(), {"val_score": 0.5}, {"sources": ["a/train"]}, state).save(tmp_path / "l.pt")
    back = Checkpoint.load(tmp_path / "l.pt").train_state
    assert back is not None and back["history"] == state["history"] and torch.equal(back["torch_rng"], state["torch_rng"])
    assert back["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)


@pytest.mark.parametrize("path", [DEFAULT_WEIGHTS, REPO / "docs/training/candidates/portrait-sgc-256-s_gc_d.pt",
                                  REPO / "docs/training/candidates/portrait-sd-256-sd_d.pt",
                                  REPO / "docs/training/candidates/portrait-sd-256-sde_soup05.pt"])
def test_the_checkpoints_in_the_repository_still_load(path: Path) -> None:
    assert Checkpoint.load(path).build() is not None


@pytest.mark.parametrize("part, value, message", [
    ("state_dict", [1, 2], "'state_dict' is a list"),
    ("state_dict", {"w": "text"}, "map parameter names to tensors"),
    ("train_state", 3, "'train_state' is a int"),
])
def test_malformed_parts_are_named(tmp_path: Path, part: str, value: object, message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        Checkpoint.load(raw_checkpoint(tmp_path / "x.pt", **{part: value}))


@pytest.mark.parametrize("field, value", [
    ("widths", [8, 16, 32, 64, -1]), ("decoder_widths", [64, 0, 16]), ("refine_width", 10**7),
    ("dilations", [1, "2", 3]), ("blocks_per_stage", [0, 1, 1, 1, 10**6]), ("input_size", [256, True]),
])
def test_a_tampered_config_shape_is_named_before_torch_sees_it(tmp_path: Path, field: str, value: object) -> None:
    """A negative width reached torch as 'negative dimension -1', with a traceback from the CLIs."""
    path = raw_checkpoint(tmp_path / "x.pt", config={"name": "mine", field: value})
    with pytest.raises(CheckpointError, match=rf"x.pt: bad model config: mine: {field} must be integers in"):
        Checkpoint.load(path)


def test_load_any_reads_each_kind_by_its_format(tmp_path: Path) -> None:
    from portrait_mobile.checkpoint import load_any
    from portrait_mobile.formats import EDGE_REFINER, SEGMENTER
    from portrait_mobile.refine.checkpoint import RefinerCheckpoint
    from portrait_mobile.refine.model import build_refiner

    Checkpoint(TINY, build_model(TINY).state_dict()).save(tmp_path / "m.pt")
    r = build_refiner()
    RefinerCheckpoint(r.config, r.state_dict()).save(tmp_path / "r.pt")
    assert (type(load_any(tmp_path / "m.pt")), load_any(tmp_path / "m.pt").role) == (Checkpoint, SEGMENTER)
    assert (type(load_any(tmp_path / "r.pt")), load_any(tmp_path / "r.pt").role) == (RefinerCheckpoint, EDGE_REFINER)
    # Each kind's own loader refuses the other kind, and both refuse a malformed part the same way.
    # ... saying which kind it is (portrait-eval --weights <a refiner's .pt> said 'not a portrait-mobile checkpoint').
    with pytest.raises(CheckpointError, match=rf"r.pt is an edge-refiner checkpoint \({r.config.name}\), not a segmenter"):
        Checkpoint.load(tmp_path / "r.pt")
    with pytest.raises(CheckpointError, match=r"m.pt is a segmenter checkpoint \(tiny-ck\), not an edge-refiner"):
        RefinerCheckpoint.load(tmp_path / "m.pt")
    torch.save({"format": "portrait-mobile-refiner/1", "config": r.config.to_dict(), "state_dict": [1]},
               tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="'state_dict' is a list"):
        load_any(tmp_path / "bad.pt")
    torch.save({"format": "other/1"}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="format one of"):
        load_any(tmp_path / "other.pt")


def test_a_refiner_checkpoint_refuses_code_too(tmp_path: Path) -> None:
    from portrait_mobile.refine.checkpoint import RefinerCheckpoint

    marker = tmp_path / "code-ran"
    with pytest.raises(CheckpointError, match="refused.*asks to load the Python object"):
        RefinerCheckpoint.load(payload_checkpoint(tmp_path / "evil.pt", marker))
    assert not marker.exists()


def test_a_path_that_is_there_but_no_file_says_what_it_is(tmp_path: Path) -> None:
    """A folder, a FIFO or /dev/null as the checkpoint was 'checkpoint not found'."""
    import os

    os.mkfifo(tmp_path / "fifo")
    for path, kind in [(tmp_path, "a folder"), (tmp_path / "fifo", "a FIFO"), (Path(os.devnull), "a device")]:
        with pytest.raises(CheckpointError, match=f"checkpoint {path} is {kind}, not a checkpoint file"):
            Checkpoint.load(path)
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        Checkpoint.load(tmp_path / "missing.pt")
