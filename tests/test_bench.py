"""portrait_bench: statistics, profiles, delegate compatibility, budgets, the CLI and the pytest fixture.

Tiny models are converted from PyTorch once per session (litert-torch, a few seconds); nothing here
asserts a timing: speed is a benchmark, not a test.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from portrait_bench import cli
from portrait_bench.budgets import BudgetError, evaluate_budget, load_budget
from portrait_bench.compat import check_model, count_partitions
from portrait_bench.model_specs import anchors_dir, describe_model, resolve_models
from portrait_bench.op_profile import parse_summary, profile_ops
from portrait_bench.tflite_graph import short_layer_name
from portrait_bench.profiles import DEFAULT_PROFILES_FILE, ProfileError, load_profiles, select_profiles
from portrait_bench.timing import compute_stats, median_ratio, pinned, time_interleaved

HAS_REFERENCE = anchors_dir() is not None


# ------------------------------------------------------------------ tiny models

def _convert(module, path: Path, size: int = 32) -> Path:
    import litert_torch
    import torch

    m = module.eval()
    em = litert_torch.convert(litert_torch.to_channel_last_io(m, args=[0], outputs=[0]), (torch.rand(1, size, size, 3),))
    em.export(str(path))
    assert path.is_file()
    return path


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """good: ops every delegate takes (incl. a dilated depthwise conv, concat, bilinear resize);
    bad: the same kind of model with torch.cumsum, which becomes CUMSUM: no NNAPI or GPU delegate support."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("litert_torch")
    nn = torch.nn
    F = torch.nn.functional

    class Good(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1)
            self.dw = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=8)
            self.head = nn.Conv2d(16, 1, 1)

        def forward(self, x):
            a = torch.relu(self.stem(x))
            b = torch.relu(self.dw(a))
            c = F.interpolate(torch.cat([a, b], 1), scale_factor=2, mode="bilinear", align_corners=False)
            return torch.sigmoid(self.head(c))

    class Bad(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2d(3, 4, 3, padding=1)

        def forward(self, x):
            return torch.sigmoid(torch.cumsum(torch.relu(self.stem(x)), dim=1))

    d = tmp_path_factory.mktemp("bench_models")
    torch.manual_seed(0)
    good = _convert(Good(), d / "tiny_fp32.tflite")
    bad = _convert(Bad(), d / "cumsum_fp32.tflite")
    # an int8 sibling of the good model, as portrait-export writes them (fp32 -> ai-edge-quantizer)
    int8 = d / "tiny_int8.tflite"
    try:
        from ai_edge_quantizer import quantizer, recipe

        q = quantizer.Quantizer(str(good), recipe.static_wi8_ai8())
        rng = np.random.default_rng(0)
        cal = q.calibrate({"serving_default": [{"args_0": rng.random((1, 32, 32, 3), dtype=np.float32)} for _ in range(4)]})
        q.quantize(cal).export_model(str(int8), overwrite=True)
    except Exception:  # noqa: BLE001 - quantizer optional here: tests needing it skip
        int8 = None
    return {"good": good, "bad": bad, "int8": int8}


# ------------------------------------------------------------------ statistics

def test_stats_on_fake_timings() -> None:
    s = compute_stats([1.0, 2.0, 3.0, 4.0, 100.0])
    assert s.n == 5
    assert s.median_ms == 3.0
    assert s.min_ms == 1.0 and s.max_ms == 100.0
    assert s.p90_ms == pytest.approx(np.percentile([1, 2, 3, 4, 100], 90))
    assert s.std_ms == pytest.approx(np.std([1, 2, 3, 4, 100], ddof=1))
    assert s.mean_ms == pytest.approx(22.0)
    with pytest.raises(ValueError):
        compute_stats([])
    with pytest.raises(ValueError):
        compute_stats([1.0, float("nan")])


def test_ratio_of_medians_with_paired_bootstrap() -> None:
    rng = np.random.default_rng(1)
    ref = 3.0 + rng.random(200) * 0.1
    ours = 2.0 * ref
    r = median_ratio(ours, ref)
    assert r.value == pytest.approx(2.0)
    assert r.ci_low <= 2.0 <= r.ci_high
    # an outlier burst that hits both models alike (interleaved runs) barely moves the ratio
    ours[:20] += 50
    ref[:20] += 50
    assert median_ratio(ours, ref).value == pytest.approx(2.0, rel=0.1)


def test_interleaving_rotates_and_counts() -> None:
    calls: list[str] = []
    ticks = iter(range(10_000))
    runners = [lambda n=n: calls.append(n) for n in "abc"]
    out = time_interleaved(runners, runs=4, warmup=2, clock=lambda: next(ticks) * 1_000_000)
    assert [len(x) for x in out] == [4, 4, 4]
    timed = calls[6:]  # after 2 warm-up rounds of a, b, c
    assert timed[:3] == ["a", "b", "c"] and timed[3:6] == ["b", "c", "a"] and timed[6:9] == ["c", "a", "b"]
    assert all(v == 1.0 for x in out for v in x)  # the fake clock advances 1 ms per call


def test_pinning_restores_the_mask() -> None:
    import os

    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("no CPU affinity on this OS")
    before = os.sched_getaffinity(0)
    with pinned([min(before)], threads=4) as pin:
        if pin.applied is not None:
            assert set(pin.applied) == {min(before)}
            assert "oversubscribed" in pin.note
    assert os.sched_getaffinity(0) == before


# ------------------------------------------------------------------ profiles

def test_shipped_profiles() -> None:
    profs = load_profiles()
    assert {"flagship-1big", "midrange-2t", "android-nnapi", "android-gpu", "ios-coreml-ane"} <= set(profs)
    for p in profs.values():
        assert p.emulates and p.title and p.how()
        if p.target != "cpu":
            assert p.delegate_check is not None and p.proxy_note, p.name
        if p.reference_on_device is not None:
            assert p.reference_on_device.source.startswith("https://")
        if p.slowdown is not None:
            assert p.slowdown.source
    assert profs["android-nnapi"].delegate_check.android_api_level == 30
    assert [p.name for p in select_profiles(["all"], profs)] == list(profs)
    assert [p.name for p in select_profiles(["midrange-2t,flagship-1big"], profs)] == ["midrange-2t", "flagship-1big"]
    with pytest.raises(ProfileError, match="known: flagship-1big"):
        select_profiles(["pixel-99"], profs)


def test_profile_file_is_validated(tmp_path: Path) -> None:
    data = json.loads(DEFAULT_PROFILES_FILE.read_text())
    data["profiles"][0]["kernels"] = "npu-magic"
    f = tmp_path / "p.json"
    f.write_text(json.dumps(data))
    with pytest.raises(ProfileError, match="kernels"):
        load_profiles(f)
    f.write_text(json.dumps({"schema": "nope", "profiles": []}))
    with pytest.raises(ProfileError, match="schema"):
        load_profiles(f)


# ------------------------------------------------------------------ compatibility

def test_partitions_are_runs_of_supported_ops() -> None:
    assert count_partitions([True, True, False, True]) == 2
    assert count_partitions([False, False]) == 0
    assert count_partitions([True] * 5) == 1


def test_unsupported_op_fails_the_check(tiny_models: dict[str, Path]) -> None:
    rep = check_model(tiny_models["bad"])
    assert not rep.passed
    ops = [op.op for op in rep.graph.ops]
    assert "CUMSUM" in ops
    k = ops.index("CUMSUM")
    for name in ("nnapi", "gpu"):
        d = rep.delegates[name]
        assert not d.passed
        assert k in d.fallback_ops
        assert d.verdicts[k].status == "unsupported" and d.verdicts[k].reason
        assert d.coverage_pct < 100
        assert d.partitions >= 2  # the op splits the graph
    assert rep.delegates["coreml"].verdicts[k].status in ("uncertain", "unsupported")


def test_supported_model_passes_and_api_level_matters(tiny_models: dict[str, Path]) -> None:
    rep = check_model(tiny_models["good"], delegates=("nnapi", "gpu"), android_api_level=30)
    assert rep.passed, {k: v.summary() for k, v in rep.delegates.items()}
    for d in rep.delegates.values():
        assert d.coverage_pct == 100 and d.partitions == 1
    # half_pixel_centers resize needs API 30, the dilated depthwise conv API 29
    old = check_model(tiny_models["good"], delegates=("nnapi",), android_api_level=28).delegates["nnapi"]
    bad_ops = {rep.graph.ops[i].op for i in old.fallback_ops}
    assert {"RESIZE_BILINEAR", "DEPTHWISE_CONV_2D"} <= bad_ops
    assert not old.passed


def test_int8_model_compat(tiny_models: dict[str, Path]) -> None:
    if tiny_models["int8"] is None:
        pytest.skip("ai-edge-quantizer unavailable")
    rep = check_model(tiny_models["int8"], delegates=("nnapi", "gpu"), android_api_level=30)
    assert rep.passed
    # signed int8 needs NNAPI 1.2+: at API 28 everything quantized falls back
    assert not check_model(tiny_models["int8"], delegates=("nnapi",), android_api_level=28).passed


def test_cli_compat_exit_codes(tiny_models: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--compat", str(tiny_models["good"]), "--delegates", "nnapi,gpu"]) == 0
    assert cli.main(["--compat", str(tiny_models["bad"])]) == 1
    out = capsys.readouterr()
    assert "CUMSUM" in out.out and "NO" in out.out
    assert "FAILED" in out.err


# ------------------------------------------------------------------ per-op profile

SUMMARY = """\
============================== Run Order ==============================
                     [node type]  [start]  [first] [avg ms]     [%]   [cdf%]  [mem KB] [times called]  [Name]
 Delegate/Convolution (NHWC, F32) IGEMM    0.000    0.156    0.166   6.897%   6.897%     0.000        10  [Delegate]:0
                 AVERAGE_POOL_2D    0.000    0.122    0.123   5.120%  12.017%     0.000        10  [Builtin]:52

========================== Top by Computation Time ====================
"""


def test_parse_profile_summary() -> None:
    rows = parse_summary(SUMMARY)
    assert [(r.index, r.node_type, r.avg_ms) for r in rows] == [
        (0, "Delegate/Convolution (NHWC, F32) IGEMM", 0.166),
        (52, "AVERAGE_POOL_2D", 0.123),
    ]


def test_short_layer_names() -> None:
    name = (
        "litert_torch._convert.to_channel_last_io.ChannelLastIOWrapper/portrait_mobile.model.PortraitNet_wrapped/"
        "portrait_mobile.model.Encoder_encoder/torch.nn.modules.container.Sequential_1/"
        "portrait_mobile.layers.DSConv_0/portrait_mobile.layers.ConvBNAct_pw/torch.nn.modules.conv.Conv2d_conv;1"
    )
    assert short_layer_name(name) == "encoder.1.0.pw.conv"


def test_op_profile_of_a_real_model(tiny_models: dict[str, Path]) -> None:
    prof = profile_ops(tiny_models["good"], threads=1, mode="builtin", runs=3, warmup=1)
    assert prof.rows and prof.total_ms > 0
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "RESIZE_BILINEAR"} <= {r.node_type for r in prof.rows}
    assert any(r.layer for r in prof.rows)  # builtin rows map to layers


# ------------------------------------------------------------------ models

def test_model_discovery(tiny_models: dict[str, Path]) -> None:
    spec = describe_model(tiny_models["good"])
    assert spec.precision == "fp32" and spec.family == "tiny"
    if tiny_models["int8"] is not None:
        specs = resolve_models([tiny_models["good"]])
        assert [s.precision for s in specs] == ["int8", "fp32"]
        assert len(resolve_models([tiny_models["good"]], with_siblings=False)) == 1


# ------------------------------------------------------------------ CLI and budgets

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


def test_budget_that_cannot_be_evaluated_is_broken(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    from portrait_bench.api import run_benchmark

    result = run_benchmark([tiny_models["bad"]], profiles=["flagship-1big"], reference=None, runs=3, warmup=1,
                           op_profile="none", memory=False, with_siblings=False)
    p = tmp_path / "b.json"
    p.write_text(json.dumps({"schema": "portrait-bench-budget/1", "budgets": [
        {"name": "needs a reference", "profile": "flagship-1big", "ratio_to_reference": 5},
        {"name": "full nnapi", "delegate_coverage": {"nnapi": 100}},
    ]}))
    verdicts = evaluate_budget(load_budget(p), result)
    by_name = {v.rule: v for v in verdicts}
    assert not by_name["needs a reference"].ok and "could not be evaluated" in by_name["needs a reference"].message
    assert not by_name["full nnapi"].ok and "CUMSUM" in by_name["full nnapi"].message


def test_budget_file_validation(tmp_path: Path) -> None:
    p = tmp_path / "b.json"
    p.write_text(json.dumps({"schema": "portrait-bench-budget/1", "budgets": [{"median_msec": 3}]}))
    with pytest.raises(BudgetError, match="unknown keys"):
        load_budget(p)
    p.write_text(json.dumps({"schema": "portrait-bench-budget/1", "budgets": [{"name": "x"}]}))
    with pytest.raises(BudgetError, match="bounds nothing"):
        load_budget(p)
    shipped = load_budget(Path(cli.__file__).parent / "budgets" / "default.json")
    assert shipped.reference == "mediapipe"
    assert {"flagship-1big", "android-nnapi"} <= set(shipped.profiles() or [])
    assert select_profiles([], load_profiles()) == []
    assert any("delegate_coverage" in r.limits for r in shipped.rules)


def test_pytest_fixture_fails_on_a_broken_budget(
    tiny_models: dict[str, Path], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    portrait_budget = request.getfixturevalue("portrait_budget")
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps({"schema": "portrait-bench-budget/1", "budgets": [
        {"name": "size", "precision": "fp32", "size_kb": 10_000}]}))
    result = portrait_budget(tiny_models["good"], ok, reference=None, runs=2, warmup=0, memory=False, with_siblings=False)
    assert result.profiles == []  # a size-only budget needs no timing
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"schema": "portrait-bench-budget/1", "budgets": [
        {"name": "tiny size", "precision": "fp32", "size_kb": 0.001}]}))
    with pytest.raises(pytest.fail.Exception, match="tiny size"):
        portrait_budget(tiny_models["good"], broken, reference=None, runs=2, warmup=0, memory=False, with_siblings=False)


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


def test_shipped_budget_gates_nothing_on_x86_wall_clock() -> None:
    """x86 timings depend on the host's kernels (issue 19): no shipped gate may bound them."""
    from portrait_bench.budgets import DEFAULT_BUDGET, TIMING_METRICS

    shipped = load_budget(DEFAULT_BUDGET)
    x86 = [r for r in shipped.rules if r.gate and any(m in r.limits for m in TIMING_METRICS)]
    assert x86 == [], [r.name for r in x86]
    assert any(r.gate and "size_kb" in r.limits for r in shipped.rules)


def test_memory_probe_measures_a_model(tiny_models: dict[str, Path]) -> None:
    from portrait_bench import memprobe

    got = memprobe.probe(tiny_models["good"], threads=1, kernels="xnnpack")
    assert got is not None, "the memory probe failed on a valid model"
    assert got["peak_delta_kb"] >= got["rss_delta_kb"] > 0
    assert memprobe.probe(Path("/nonexistent/model.tflite")) is None  # a failed child is reported as unknown


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
