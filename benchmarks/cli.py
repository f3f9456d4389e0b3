"""portrait-bench: latency per emulated device profile, side by side with the MediaPipe reference.

  portrait-bench --model exported/portrait-sd-256_int8.tflite --profile all --reference mediapipe
  portrait-bench --model exported/portrait-sd-256_int8.tflite --budget benchmarks/budgets/default.json
  portrait-bench --compat exported/portrait-sd-256_int8.tflite --api-level 30
  portrait-bench --list-profiles
  portrait-bench --setup-arm        (once: the ARM64 emulation of the arm-* profiles, cached)
  portrait-bench --model exported/portrait-sd-256_int8.tflite --profile arm-a76 --reference mediapipe

Exit status: 0 all good; 1 a budget is broken (or, with --compat, a delegate would fall back to the
CPU); 2 the benchmark could not run (bad arguments, missing model, ...).
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from portrait_mobile.atomic import write_text
from portrait_mobile.cli_support import EXIT_FAILED, OneLineParser, non_negative_int, positive_int, run_cli
from portrait_mobile.writable import check_output_dir, check_output_file, refuse_collisions
from portrait_bench.compat import DELEGATES
from portrait_bench.op_profile import OP_PROFILE_CHOICES

PROG = "portrait-bench"
EXIT_OK = 0


def _setup_arm(args: argparse.Namespace) -> int:
    from portrait_bench.arm.prepare import prepare

    progress = None if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    env = prepare(progress=progress)
    print(f"ARM emulation ready: {env.describe()}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    ap = OneLineParser(
        prog=PROG,
        description=__doc__.split("\n\n")[0],
        epilog="\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--model", action="append", default=None, metavar="TFLITE",
                    help="our model (repeatable); its _int8/_fp32 siblings are added (default: exported/<default>_int8.tflite)")
    ap.add_argument("--no-siblings", action="store_true", help="time only the files given, not their other precisions")
    ap.add_argument("--profile", action="append", default=None, metavar="NAME",
                    help="device profile(s), comma-separated or repeated, or 'all' (the x86 ones) or 'arm' (arm-a53, "
                         "arm-a55, arm-a76: ARM64 kernels under QEMU, instruction counts; see --setup-arm) "
                         "or 'web-wasm' (on its own: headless Chromium, LiteRT.js WASM, web_demo/bench.mjs) "
                         "(default: all, or those the budget names)")
    ap.add_argument("--reference", default=None, metavar="mediapipe|PATH|none",
                    help="model timed interleaved with ours for the ratio (default: mediapipe, or the budget's)")
    ap.add_argument("--runs", type=positive_int, default=None, help="timed runs per model (default: each profile's)")
    ap.add_argument("--warmup", type=non_negative_int, default=None, help="warm-up runs per model (default: each profile's)")
    ap.add_argument("--op-profile", choices=OP_PROFILE_CHOICES, default="both",
                    help="per-op time view(s) from LiteRT's op profiler (default: both)")
    ap.add_argument("--op-runs", type=positive_int, default=20, help="runs for the per-op profile (default 20)")
    ap.add_argument("--no-memory", action="store_true", help="skip the per-model memory probe (a child process each)")
    ap.add_argument("--top-ops", type=non_negative_int, default=8, help="slowest ops to print per model (default 8)")
    ap.add_argument("--budget", metavar="FILE", help="check this budget file; exit 1 naming each broken budget")
    ap.add_argument("--out", metavar="DIR", help="write result.json, report.txt and bench.png here (default: runs/bench/<time>)")
    ap.add_argument("--json", metavar="FILE", help="also write the JSON result to FILE")
    ap.add_argument("--plot", metavar="PNG", help="also write the plot to PNG")
    ap.add_argument("--no-plot", action="store_true", help="do not draw the plot")
    ap.add_argument("--profiles-file", metavar="FILE", help="device profiles JSON (default: the shipped devices.json)")
    ap.add_argument("--compat", nargs="+", metavar="TFLITE", help="only check delegate compatibility of these models, op by op")
    ap.add_argument("--delegates", default=",".join(DELEGATES),
                    help=f"delegates for --compat (default {','.join(DELEGATES)})")
    ap.add_argument("--api-level", type=positive_int, default=30, help="Android API level for the NNAPI check (default 30)")
    ap.add_argument("--list-profiles", action="store_true", help="list the device profiles and what they emulate")
    ap.add_argument("--full-compat", action="store_true", help="print every op in the compatibility tables")
    ap.add_argument("--setup-arm", action="store_true",
                    help="prepare the ARM64 emulation of the arm-* profiles (qemu-user and gcc from apt must be "
                         "installed; downloads arm64 Debian packages and aarch64 wheels once into "
                         "$PORTRAIT_BENCH_CACHE or ~/.cache/portrait-bench) and exit")
    ap.add_argument("--arm-images", type=non_negative_int, default=16,
                    help="PFCN test images for the ARM-vs-x86 parity check of the arm-* profiles (default 16)")
    ap.add_argument("--arm-cycles", action="store_true",
                    help="arm-* profiles: also estimate cycles with llvm-mca over the hottest blocks (an estimate)")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    return ap


def _list_profiles(profiles_file: str | None) -> int:
    from portrait_bench.profiles import load_profiles, of_runner
    from portrait_bench.report import table

    profs = load_profiles(profiles_file)
    rows = []
    for p in of_runner(profs, "host"):
        check = p.delegate_check.describe() if p.delegate_check else "-"
        est = "ratio x published ref time" if p.reference_on_device else ("slowdown factor" if p.slowdown else "-")
        rows.append([p.name, p.title, p.how(), f"{p.native_precision} (runs {','.join(p.precisions)})", check, est])
    print(table(["profile", "emulates", "measured here as", "precision", "delegate check", "device estimate"], rows))
    for p in of_runner(profs, "host"):
        print(f"\n{p.name}: {p.emulates}")
        if p.proxy_note:
            print(f"  {p.proxy_note}")
        if p.reference_on_device:
            r = p.reference_on_device
            print(f"  device estimate anchor: {r.ms} ms, {r.device}: {r.what} ({r.source}). {r.caveat}")
    cores = [p.arm for p in of_runner(profs, "arm") if p.arm is not None]
    if cores:
        print("\nUnder ARM64 emulation (QEMU user mode, instruction counts; set up once with --setup-arm):")
        print(table(["profile", "emulates", "qemu -cpu", "MIDR part (fake /proc/cpuinfo)", "cycle model (--arm-cycles)"],
                    [[c.profile, c.title, c.qemu_cpu, f"{c.midr_part:#x}", c.mca_note] for c in cores]))
    web = of_runner(profs, "web")
    if web:
        print("\nIn a browser (each on its own, information only; needs node, Chromium and npm ci --prefix web_demo):")
        for p in web:
            print(f"  {p.name}: {p.how()}. {p.emulates}")
    return EXIT_OK


def _compat_only(args: argparse.Namespace) -> int:
    from portrait_bench.compat import check_model
    from portrait_bench.report import format_compat

    delegates = tuple(d.strip() for d in args.delegates.split(",") if d.strip())
    if args.json:
        refuse_collisions([("--compat", m) for m in args.compat], [("--json", args.json)])
        check_output_file(Path(args.json), "--json")
    failed = False
    payload = {}
    for m in args.compat:
        rep = check_model(m, delegates=delegates, android_api_level=args.api_level)
        print(format_compat(rep, full=True))
        print()
        payload[m] = rep.to_dict()
        failed |= not rep.passed
    if args.json:
        write_text(Path(args.json), json.dumps(payload, indent=2))
    if failed:
        print("portrait-bench: compatibility check FAILED: some ops would fall back to the CPU (see 'why not')",
              file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from portrait_bench.api import BenchError
    from portrait_bench.arm.emulate import EmulationError
    from portrait_bench.arm.prepare import ArmSetupError
    from portrait_bench.web import WebBenchError

    def body() -> int:
        if args.setup_arm:
            return _setup_arm(args)
        if args.list_profiles:
            return _list_profiles(args.profiles_file)
        if args.compat:
            return _compat_only(args)
        web = _web_profile(args)
        if web is not None:
            return _web(args, web)
        return _bench(args)

    # The ValueError kinds (budget, profile, model, graph, core, output) are usage errors already;
    # these RuntimeErrors say the set-up cannot run the benchmark, also exit 2.
    return run_cli(PROG, body, usage_types=(BenchError, WebBenchError, ArmSetupError, EmulationError))


@dataclass
class _Outputs:
    """Where a benchmark run writes: its folder (result.json, report.txt, plots) and --json."""

    out_dir: Path
    json_path: Path | None
    made_out: bool

    @classmethod
    def checked(cls, args: argparse.Namespace, reference: str | None) -> "_Outputs":
        """The run's outputs, each checked writable, and clear of the files the run reads (``reference``:
        the one in use, maybe the budget's) and of each other, before the (long) run starts."""
        from portrait_bench.model_specs import reference_file

        out_dir = Path(args.out) if args.out else Path("runs") / "bench" / _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        plots = [] if args.no_plot else ["bench.png"]
        refuse_collisions(
            [*(("--model", m) for m in args.model or []), ("--reference", reference_file(reference)),
             ("--budget", args.budget), ("--profiles-file", args.profiles_file)],
            [*(("--out", out_dir / n) for n in ("result.json", "report.txt", *plots)),
             ("--json", args.json), ("--plot", None if args.no_plot else args.plot)],
        )
        made_out = not out_dir.exists()
        check_output_dir(out_dir)
        json_path = Path(args.json) if args.json else None
        if json_path is not None:
            check_output_file(json_path, "--json")
        if getattr(args, "plot", None):
            check_output_file(Path(args.plot), "--plot")
        return cls(out_dir, json_path, made_out)

    @contextlib.contextmanager
    def removed_if_empty(self) -> Iterator[None]:
        """No empty result folder left behind by a run that failed."""
        try:
            yield
        except BaseException:
            if self.made_out and self.out_dir.is_dir() and not any(self.out_dir.iterdir()):
                self.out_dir.rmdir()
            raise

    def write(self, payload: dict[str, Any], text: str) -> list[str]:
        """result.json (and --json) and report.txt; returns the paths written."""
        blob = json.dumps(payload, indent=1)
        written = []
        for p in [self.out_dir / "result.json", *([self.json_path] if self.json_path else [])]:
            write_text(p, blob)
            written.append(str(p))
        write_text(self.out_dir / "report.txt", text)
        written.append(str(self.out_dir / "report.txt"))
        return written


def _bench(args: argparse.Namespace) -> int:
    from portrait_bench.budgets import evaluate_budget, load_budget
    from portrait_bench.report import format_result, format_verdicts

    budget = load_budget(args.budget) if args.budget else None
    profiles = args.profile
    if profiles is None and budget is not None:
        profiles = budget.profiles()
    reference = args.reference if args.reference is not None else (budget.reference if budget else "mediapipe")
    outputs = _Outputs.checked(args, reference)
    progress = None if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    with outputs.removed_if_empty():
        result = _run(args, profiles, reference, progress)
    verdicts = evaluate_budget(budget, result) if budget else []
    text = format_result(result, top_ops=args.top_ops, compat_full=args.full_compat)
    if verdicts:
        text += "\n" + format_verdicts(verdicts) + "\n"
    print(text, end="")

    payload = result.to_dict()
    if budget:
        payload["budget"] = {"file": budget.path, "verdicts": [v.to_dict() for v in verdicts]}
    written = outputs.write(payload, text)
    out_dir = outputs.out_dir
    if not args.no_plot:
        from portrait_bench.plot import plot_result

        for p in [out_dir / "bench.png", *([Path(args.plot)] if args.plot else [])]:
            try:
                plot_result(result, p, verdicts)
                written.append(str(p))
            except (ValueError, ImportError) as e:
                print(f"portrait-bench: no plot: {e}", file=sys.stderr)
                break
    if not args.quiet:
        print(f"wrote {', '.join(written)}", file=sys.stderr)
    broken = [v for v in verdicts if v.broken]
    if broken:
        print(f"portrait-bench: {len(broken)} budget(s) broken:", file=sys.stderr)
        for v in broken:
            print(f"  {v.message}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _web_profile(args: argparse.Namespace) -> Any:
    """The web profile --profile names (a browser benchmark runs on its own), or None."""
    from portrait_bench.profiles import load_profiles, split_profile_names
    from portrait_bench.web import WebBenchError

    names = split_profile_names(args.profile)
    profs = load_profiles(args.profiles_file)
    web = [profs[n] for n in names if n in profs and profs[n].runner == "web"]
    if not web:
        return None
    if names != [web[0].name]:
        raise WebBenchError(f"--profile {web[0].name} runs on its own (got {', '.join(names)}): run the others "
                            "separately")
    return web[0]


def _web(args: argparse.Namespace, profile: Any) -> int:
    """A web profile (--profile web-wasm): the browser benchmark (web_demo/bench.mjs), on its own;
    information only."""
    from portrait_bench.model_specs import default_model_paths, resolve_reference
    from portrait_bench.web import WebBenchError, format_web, missing_tool, run_web_benchmark

    name = profile.name
    if args.budget:
        raise WebBenchError(f"--profile {name} is information only: no --budget")
    why = missing_tool()
    if why:
        raise WebBenchError(f"{name}: {why}")
    models = args.model or [str(p) for p in default_model_paths(".")][:1]
    if len(models) != 1:
        raise WebBenchError(f"--profile {name} times one model (got {len(models) or 'none'}); pass --model FILE")
    reference = args.reference if args.reference is not None else "mediapipe"
    ref = resolve_reference(reference)
    if ref is None:
        raise WebBenchError(f"--profile {name} needs a reference (the page times ours against it)")
    outputs = _Outputs.checked(args, reference)
    runs = args.runs or profile.runs
    if not args.quiet:
        print(f"{name}: headless Chromium, {runs} interleaved runs ...", file=sys.stderr, flush=True)
    with outputs.removed_if_empty():
        res = run_web_benchmark(models[0], ref.path, profile, runs=runs)
    text = format_web(res)
    print(text, end="")
    written = outputs.write({"web": res}, text)
    if not args.quiet:
        print(f"wrote {', '.join(written)}", file=sys.stderr)
    return EXIT_OK


def _run(args: argparse.Namespace, profiles: list[str] | None, reference: str, progress) -> Any:
    from portrait_bench.api import run_benchmark

    return run_benchmark(
        models=args.model,
        profiles=profiles,
        reference=reference,
        runs=args.runs,
        warmup=args.warmup,
        with_siblings=not args.no_siblings,
        op_profile=args.op_profile,
        op_runs=args.op_runs,
        memory=not args.no_memory,
        profiles_file=args.profiles_file,
        progress=progress,
        arm_images=args.arm_images,
        arm_cycles=args.arm_cycles,
    )


if __name__ == "__main__":
    raise SystemExit(main())
