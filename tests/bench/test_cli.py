"""portrait-bench (portrait_bench.cli): a run on a tiny model, budgets and exit codes, --compat, bad
arguments and outputs refused before the run."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from portrait_bench import cli
from portrait_bench.budgets import BudgetError, load_budget
from portrait_bench.model_specs import anchors_dir

HAS_REFERENCE = anchors_dir() is not None


def test_cli_compat_exit_codes(tiny_models: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--compat", str(tiny_models["good"]), "--delegates", "nnapi,gpu"]) == 0
    assert cli.main(["--compat", str(tiny_models["bad"])]) == 1
    out = capsys.readouterr()
    assert "CUMSUM" in out.out and "NO" in out.out
    assert "FAILED" in out.err


def test_cli_compat_refuses_a_json_folder_before_checking(tiny_models: dict[str, Path], tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    rc = cli.main(["--compat", str(tiny_models["good"]), "--json", str(tmp_path)])
    out = capsys.readouterr()
    assert rc == 2 and "--json" in out.err and "is a folder" in out.err and out.out == ""


def _bench_args(model: Path, out: Path, *extra: str) -> list[str]:
    ref = "mediapipe" if HAS_REFERENCE else "none"
    return ["--model", str(model), "--profile", "flagship-1big", "--runs", "5", "--warmup", "1",
            "--reference", ref, "--out", str(out), "-q", *extra]


def test_cli_on_a_tiny_model(tiny_models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = cli.main(_bench_args(tiny_models["good"], tmp_path, "--op-runs", "3"))
    assert rc == 0
    out = capsys.readouterr().out
    assert "flagship-1big" in out and "median ms" in out and "p90 ms" in out
    assert "Per-op time" in out
    res = json.loads((tmp_path / "result.json").read_text())
    prof = res["profiles"][0]
    labels = [t["model"] for t in prof["timings"]]
    assert "tiny_fp32.tflite" in labels
    for t in prof["timings"]:
        assert len(t["samples_ms"]) == 5
        assert {"median_ms", "p90_ms", "min_ms", "std_ms"} <= set(t["stats"])
        # the probe ran in a fresh process and measured something (None would mean it failed)
        assert t["memory"] is not None, "memory probe failed"
        assert t["memory"]["peak_delta_kb"] > 0 and t["memory"]["baseline_rss_kb"] > 0
        if HAS_REFERENCE:
            assert t["ratio_to_reference"]["value"] > 0
    assert prof["op_profiles"]
    assert (tmp_path / "bench.png").stat().st_size > 1000
    assert (tmp_path / "report.txt").is_file()


def test_impossible_budget_exits_nonzero_naming_it(
    tiny_models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    budget = {
        "schema": "portrait-bench-budget/1",
        "budgets": [
            {"name": "impossible latency", "profile": "flagship-1big", "precision": "fp32", "median_ms": 1e-6},
            {"name": "roomy size", "precision": "fp32", "size_kb": 10_000},
            {"name": "informational latency", "profile": "flagship-1big", "median_ms": 1e-6, "gate": False},
            *([{"name": "impossible ratio", "profile": "flagship-1big", "ratio_to_reference": 1e-6}] if HAS_REFERENCE else []),
        ],
    }
    f = tmp_path / "budget.json"
    f.write_text(json.dumps(budget))
    rc = cli.main([*_bench_args(tiny_models["good"], tmp_path / "out", "--no-siblings"), "--budget", str(f),
                   "--op-profile", "none", "--no-memory", "--no-plot"])
    assert rc == 1
    err = capsys.readouterr().err
    assert "budget 'impossible latency'" in err and "median_ms" in err
    assert "roomy size" not in err
    assert "informational latency" not in err  # over its limit, but information: not reported as broken
    if HAS_REFERENCE:
        assert "budget 'impossible ratio'" in err


def test_informational_budget_never_fails_the_run(
    tiny_models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "budget.json"
    f.write_text(json.dumps({"schema": "portrait-bench-budget/1", "budgets": [
        {"name": "x86 latency, information", "profile": "flagship-1big", "median_ms": 1e-6, "gate": False},
        {"name": "roomy size", "precision": "fp32", "size_kb": 10_000}]}))
    rc = cli.main([*_bench_args(tiny_models["good"], tmp_path / "out", "--no-siblings"), "--budget", str(f),
                   "--reference", "none", "--op-profile", "none", "--no-memory", "--no-plot"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "over: budget 'x86 latency, information'" in out.out and "not a gate" in out.out
    assert "1/1 gates ok, 1 for information only" in out.out
    f.write_text(json.dumps({"schema": "portrait-bench-budget/1", "budgets": [
        {"name": "bad gate flag", "size_kb": 1, "gate": "no"}]}))
    with pytest.raises(BudgetError, match="gate must be true or false"):
        load_budget(f)


@pytest.mark.parametrize("args, complaint", [
    (["--runs", "0"], "--runs"),
    (["--runs", "-5"], "--runs"),
    (["--warmup", "-1"], "--warmup"),
    (["--api-level", "-3"], "--api-level"),
    (["--op-runs", "0"], "--op-runs"),
    (["--arm-images", "-1"], "--arm-images"),
])
def test_bad_numbers_are_one_line_errors(args: list[str], complaint: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        cli.main(["--model", "x.tflite", *args])
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert err.startswith("portrait-bench: error: ") and err.count("\n") == 1 and complaint in err


def test_unwritable_out_is_refused_before_the_run(tiny_models: dict[str, Path], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import os

    from portrait_bench import api

    def must_not_run(*_a, **_k):
        raise AssertionError("the benchmark ran although --out cannot be written")

    monkeypatch.setattr(api, "run_benchmark", must_not_run)
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    if os.geteuid() == 0:  # root writes through file modes: use a file system that refuses everyone
        read_only = Path("/sys/kernel/portrait-bench-out") if Path("/sys/kernel").is_dir() else a_file / "out"
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        read_only = ro / "out"
    for out, why in [(a_file, "not a folder"), (read_only, "cannot write")]:
        rc = cli.main(["--model", str(tiny_models["good"]), "--profile", "flagship-1big", "--out", str(out), "-q"])
        err = capsys.readouterr().err
        assert rc == 2 and why in err and err.count("\n") == 1, err
    assert a_file.read_text() == "x"


def test_a_broken_model_is_a_one_line_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "model.tflite"  # no _int8/_fp32 in the name: precision would come from its tensors
    bad.write_bytes(b"\x00" * 64)
    rc = cli.main(["--model", str(bad), "--profile", "flagship-1big", "--out", str(tmp_path / "out"), "-q"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("portrait-bench: error: ") and err.count("\n") == 1 and "model.tflite" in err
    assert not (tmp_path / "out").exists()  # no empty result folder


def _must_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from portrait_bench import api

    def must_not_run(*_a, **_k):
        raise AssertionError("the benchmark ran although its outputs collide")

    monkeypatch.setattr(api, "run_benchmark", must_not_run)


@pytest.mark.parametrize("extra, flags", [
    (["--json", "./m.tflite"], ("--json", "--model")),  # ./m and m are the same file
    (["--plot", "ref.tflite"], ("--plot", "--reference")),
    (["--json", "both", "--plot", "./both"], ("--json", "--plot")),
    (["--json", "out/result.json"], ("--json", "--out")),
    (["--json", "out/report.txt"], ("--json", "--out")),
    (["--json", "out/bench.png"], ("--json", "--out")),
    (["--plot", "out/./result.json"], ("--plot", "--out")),
])
def test_outputs_that_overwrite_an_input_or_each_other_are_refused(
    extra: list[str], flags: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--json/--plot onto the model timed, or onto another output, destroyed it after the run."""
    _must_not_run(monkeypatch)
    monkeypatch.chdir(tmp_path)
    for name in ("m.tflite", "ref.tflite"):
        Path(name).write_bytes(b"model")
    rc = cli.main(["--model", "m.tflite", "--reference", "ref.tflite", "--profile", "flagship-1big", "--out", "out",
                   "-q", *extra])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and all(f in err for f in flags), err
    assert Path("m.tflite").read_bytes() == Path("ref.tflite").read_bytes() == b"model"
    assert not Path("out").exists()  # refused before the result folder was made


def test_compat_json_onto_a_checked_model_is_refused(tiny_models: dict[str, Path], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    model = tiny_models["good"].read_bytes()
    Path("m.tflite").write_bytes(model)
    rc = cli.main(["--compat", "m.tflite", "--json", str(tmp_path / "m.tflite")])
    out = capsys.readouterr()
    assert rc == 2 and "--json" in out.err and "--compat" in out.err and out.out == ""
    assert Path("m.tflite").read_bytes() == model


def test_a_run_that_would_time_nothing_is_refused(tiny_models: dict[str, Path], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """It exited 0 with an empty report: a CI step that checks nothing passed."""
    from portrait_bench.profiles import DEFAULT_PROFILES_FILE

    base = ["--model", str(tiny_models["good"]), "--no-siblings", "--reference", "none", "--runs", "2",
            "--warmup", "0", "--op-profile", "none", "--no-memory", "--no-plot", "-q"]
    rc = cli.main([*base, "--profile", ",", "--out", str(tmp_path / "a")])
    err = capsys.readouterr().err
    assert rc == 2 and "nothing" in err and "timed" in err and "no profile" in err, err
    # a profile that runs only int8, and only an fp32 model given: every profile skipped it
    data = json.loads(DEFAULT_PROFILES_FILE.read_text())
    data["profiles"] = [{**next(p for p in data["profiles"] if p["name"] == "flagship-1big"), "precisions": ["int8"]}]
    f = tmp_path / "p.json"
    f.write_text(json.dumps(data))
    rc = cli.main([*base, "--profiles-file", str(f), "--out", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert rc == 2 and "nothing" in err and "timed" in err and "fp32" in err and "int8" in err, err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    from portrait_bench.api import run_benchmark  # no profile asked for (a size-only budget) is still fine

    assert run_benchmark([tiny_models["good"]], profiles=[], reference=None, memory=False).profiles == []


@pytest.mark.skipif(not HAS_REFERENCE, reason="the MediaPipe anchor is not here")
def test_the_mediapipe_model_as_ours_is_not_silently_skipped(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Its float16 weights make it fp16, which no x86 profile runs: the audit's exit-0 case."""
    model = anchors_dir() / "selfie_segmentation.tflite"
    rc = cli.main(["--model", str(model), "--profile", "flagship-1big", "--reference", "none", "--no-memory",
                   "--op-profile", "none", "--no-plot", "--out", str(tmp_path / "out"), "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and "nothing" in err and "fp16" in err, err
