"""Write the README's and docs/benchmarks.md's result tables from the JSON that refresh.sh measured.

Each table sits between ``<!-- NAME:begin -->`` / ``<!-- NAME:end -->`` markers (README: results,
bench; docs/benchmarks.md: bench, sizes); everything else is left alone, so a number in those tables
always comes from the last recorded run.
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from portrait_mobile.atomic import write_text

HERE = Path(__file__).resolve().parent
README = HERE.parents[1] / "README.md"
BENCH_DOC = HERE.parents[1] / "docs" / "benchmarks.md"


def _load(path: Path) -> dict:
    if not path.is_file():
        raise SystemExit(f"render_readme: {path} is missing: run docs/results/refresh.sh first")
    return json.loads(path.read_text())


def _kib(nbytes: int) -> str:
    return f"{nbytes / 1024:.1f} KiB"


def _file_kib(path: Path) -> str:
    return _kib(path.stat().st_size) if path.is_file() else "-"


def results_table(evals: dict, refined: dict | None, sizes: dict[str, str], accurate: dict | None = None,
                  raw: dict | None = None) -> str:
    rows = ["| model | what runs | params | file | fg IoU | mIoU | boundary IoU |",
            "|---|---|---|---|---|---|---|"]

    def row(r: dict, what: str, size: str, bold: bool = False) -> str:
        f = (lambda v: f"**{v:.2f}**") if bold else (lambda v: f"{v:.2f}")
        params = f"{r['params']:,}" if r.get("params") else "-"
        return (f"| {r['model']} | {what} | {params} | {size} | {f(r['fg_iou'])} | "
                f"{f(r['miou'])} | {f(r['boundary_iou'])} |")

    for r in evals["results"]:
        name = r["model"]
        if name.startswith("mediapipe"):
            rows.append(row(r, "MediaPipe `selfie_segmentation.tflite` (general, 256x256), the reference", sizes.get("mediapipe", "-")))
        elif name.endswith(".tflite"):
            rows.append(row(r, "int8 TFLite through the runtime (its default cleanup of specks and pinholes)",
                            sizes.get(name, "-"), bold=True))
        elif name.endswith(".onnx"):
            rows.append(row(r, "ONNX through the runtime", sizes.get(name, "-")))
        else:
            rows.append(row(r, "PyTorch checkpoint (shipped weights, fp32, the model's mask as it is)",
                            sizes.get("pt", "-")))
    for r in (raw or {}).get("results", []):
        file = r["model"].split(" ")[0]
        rows.append(row(r, "int8 TFLite, the model's mask as it is (`--no-cleanup`)", sizes.get(file, "-")))
    for r in (refined or {}).get("results", []):
        if not r["model"].startswith("mediapipe"):
            file = r["model"].split(" ")[0]
            rows.append(row(r, "int8 TFLite, `--refine` (runtime's guided-filter edges)", sizes.get(file, "-")))
    for r in (accurate or {}).get("results", []):
        if not r["model"].startswith("mediapipe"):
            file, *rest = r["model"].split(" ")
            refiner = rest[1] if len(rest) > 1 else "refine-t40_int8.tflite"  # runs before the name was recorded
            rows.append(row(r, "int8 TFLite, `--quality accurate` (+ the int8 learned refiner on the contour's "
                               f"tiles at 512, `{refiner}`, snapped to the photo's edges in those tiles)", sizes.get(file, "-")))
    return "\n".join(rows)


def bench_table(bench: dict) -> str:
    rows = ["| profile (what it emulates) | int8 median / p90 ms | int8 ratio | fp32 median / p90 ms | fp32 ratio | MediaPipe median / p90 ms |",
            "|---|---|---|---|---|---|"]
    for p in bench["profiles"]:
        prof = p["profile"]
        by_prec = {t["precision"]: t for t in p["timings"] if not t["is_reference"]}
        ref = p["reference"]

        def cell(t: dict | None) -> tuple[str, str]:
            if t is None:
                return "-", "-"
            s, r = t["stats"], t["ratio_to_reference"]
            ratio = f"**{r['value']:.2f}** ({r['ci_low']:.2f}-{r['ci_high']:.2f})" if r else "-"
            return f"{s['median_ms']:.2f} / {s['p90_ms']:.2f}", ratio

        i8, f32 = cell(by_prec.get("int8")), cell(by_prec.get("fp32"))
        refc = f"{ref['stats']['median_ms']:.2f} / {ref['stats']['p90_ms']:.2f}" if ref else "-"
        how = f"{prof['threads']} thread{'s' if prof['threads'] > 1 else ''}"
        if p["emulation"].get("proxy_note"):
            how += ", timed on this CPU as a proxy"
        rows.append(f"| `{prof['name']}` ({prof['title']}; {how}) | {i8[0]} | {i8[1]} | {f32[0]} | {f32[1]} | {refc} |")
    machine = bench.get("machine", {})
    rows.append("")
    flags = machine.get("cpu_kernel_flags")
    cpu = machine.get("cpu", "x86") + (f" ({' '.join(flags)})" if flags else "")
    rows.append(f"x86 wall clock, measured {str(bench.get('created', ''))[:10]} on {cpu}, "
                f"{machine.get('logical_cpus', '?')} cores, shared"
                + (f" (load average {machine['load_average_1m']:.1f} at the end of the run)"
                   if machine.get("load_average_1m") is not None else "") + "; "
                f"{bench['settings'].get('runs_override') or 'the profile'} interleaved runs per model and profile; "
                f"ratio = our median / MediaPipe's (95% bootstrap interval). Information only: the x86 ratio "
                f"depends on the host CPU's kernels (int8 1.09-1.17 on an Intel Sapphire Rapids host).")
    if bench.get("arm"):
        rows += ["", arm_table(bench["arm"])]
    return "\n".join(rows)


def arm_table(arm: list[dict]) -> str:
    """The arm-* profiles: instructions of one invoke() under QEMU (the CI gate), cycle estimate, parity."""
    rows = ["| ARM profile (emulated core) | int8 M instructions | int8 ratio | fp32 M instructions | fp32 ratio "
            "| MediaPipe M instructions | est. cycles, int8 / MediaPipe (llvm-mca) | int8 on ARM vs x86 |",
            "|---|---|---|---|---|---|---|---|"]
    for p in arm:
        by_prec = {m["precision"]: m for m in p["models"]}
        ref = p.get("reference")

        def cell(m: dict | None) -> tuple[str, str]:
            if m is None:
                return "-", "-"
            r = m.get("ratio_to_reference")
            return f"{m['instructions'] / 1e6:.2f}", (f"**{r:.3f}**" if r is not None else "-")

        i8, f32 = cell(by_prec.get("int8")), cell(by_prec.get("fp32"))
        cyc = p.get("cycles", {})
        ours_c = cyc.get(by_prec["int8"]["model"], {}) if "int8" in by_prec else {}
        ref_c = cyc.get(ref["model"], {}) if ref else {}
        est = "-"
        if "cycles" in ours_c and "cycles" in ref_c:
            est = (f"{ours_c['cycles'] / 1e6:.0f} M / {ref_c['cycles'] / 1e6:.0f} M = "
                   f"{ours_c['cycles'] / ref_c['cycles']:.2f} (~{ours_c['ms']:.1f} / {ref_c['ms']:.1f} ms "
                   f"at {ours_c['clock_ghz']} GHz)")
        par = by_prec.get("int8", {}).get("parity")
        parity = (f"max abs diff {par['max_abs_diff']:.1g}, min IoU {par['min_mask_iou']:.4f}, "
                  f"{par['bit_exact']}/{par['images']} bit-exact" if par else "-")
        core = p["core"]
        refc = f"{ref['instructions'] / 1e6:.2f}" if ref else "-"
        rows.append(f"| `{p['profile']}` ({core['title'].split(':')[1].strip()}; qemu `-cpu {core['qemu_cpu']}`, "
                    f"MIDR {core['midr_part']:#x}) | {i8[0]} | {i8[1]} | {f32[0]} | {f32[1]} | {refc} | {est} | "
                    f"{parity} |")
    rows.append("")
    rows.append("ARM: ARM64 XNNPACK kernels of ai-edge-litert 2.3.0 under QEMU user mode, 1 thread; guest "
                "instructions of one `invoke()` counted by a TCG plugin (deterministic, host-independent: the CI "
                "gate); ratio = ours / MediaPipe's on the same core. Cycles and ms are llvm-mca ESTIMATES "
                "(L1 hits, predicted branches; cortex-a76 scheduled with llvm-14's Cortex-A57 model) at a published "
                "phone clock, not measurements. Parity on PFCN test images against the x86 build.")
    return "\n".join(rows)


def sizes_table(bench: dict) -> str:
    """File size, memory a fresh process adds, and the phone estimate, per model, from one bench run."""
    first = bench["profiles"][0]
    timings = {t["model"]: t for t in first["timings"]}
    models = bench["models"] + ([bench["reference"]] if bench.get("reference") else [])
    names = [m["label"] if not m["is_reference"] else "MediaPipe" for m in models]
    rows = ["| | " + " | ".join(names) + " |", "|---" * (len(models) + 1) + "|"]
    rows.append("| file size | " + " | ".join(f"{m['size_bytes']:,} B ({_kib(m['size_bytes'])})" for m in models) + " |")

    def mem(m: dict) -> str:
        t = timings.get(m["label"]) or (first["reference"] if m["is_reference"] else None)
        return f"{t['memory']['peak_delta_kb'] / 1024:.1f} MiB" if t and t.get("memory") else "-"

    # The published MediaPipe time x our ratio to it: the host-independent ARM instruction ratio
    # (arm-a76, the Pixel 6's mid cores) when the run has it, else the x86 profile's timing ratio.
    anchor = first["profile"].get("reference_on_device") or {}
    a76 = next((p for p in bench.get("arm", []) if p["profile"] == "arm-a76"), None)
    arm_ratio = {m["model"]: m["ratio_to_reference"] for m in a76["models"]} if a76 else {}

    def est(m: dict) -> str:
        if m["is_reference"]:
            return f"{anchor['ms']:.2f} ms (published)" if anchor else "-"
        if anchor and arm_ratio.get(m["label"]) is not None:
            return f"~{arm_ratio[m['label']] * anchor['ms']:.0f} ms"
        t = timings.get(m["label"])
        return f"~{t['estimate']['ms']:.0f} ms" if t and t.get("estimate") else "-"

    basis = "arm-a76 instruction ratio" if a76 else f"{first['profile']['name']} timing ratio"
    rows.append("| memory added by loading + running (fresh process) | " + " | ".join(mem(m) for m in models) + " |")
    rows.append(f"| estimated on-device time ({basis} x published MediaPipe time; "
                "an estimate, see above) | " + " | ".join(est(m) for m in models) + " |")
    return "\n".join(rows)


def replace_block(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"render_readme: no <!-- {name}:begin/end --> markers")
    return pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=HERE)
    ap.add_argument("--exported", type=Path, default=Path("exported"))
    ap.add_argument("--readme", type=Path, default=README)
    ap.add_argument("--bench-doc", type=Path, default=BENCH_DOC)
    a = ap.parse_args()
    evals = _load(a.results / "pfcn_test.json")
    refined_path = a.results / "pfcn_test_refine.json"
    refined = _load(refined_path) if refined_path.is_file() else None
    accurate_path = a.results / "pfcn_test_accurate.json"
    accurate = _load(accurate_path) if accurate_path.is_file() else None
    raw_path = a.results / "pfcn_test_raw.json"
    raw = _load(raw_path) if raw_path.is_file() else None
    bench = _load(a.results / "bench.json")
    sizes = {m["label"]: _kib(m["size_bytes"]) for m in bench["models"]}
    if bench.get("reference"):
        sizes["mediapipe"] = _kib(bench["reference"]["size_bytes"])
    for f in a.exported.glob("*.onnx"):
        sizes[f.name] = _file_kib(f)
    for r in evals["results"]:
        if r["model"].endswith(".pt"):
            sizes["pt"] = _file_kib(a.readme.parent / "portrait_mobile" / "weights" / r["model"])
    bench_md = bench_table(bench)
    targets = {a.readme: {"results": results_table(evals, refined, sizes, accurate, raw), "bench": bench_md},
               a.bench_doc: {"bench": bench_md, "sizes": sizes_table(bench)}}
    for path, blocks in targets.items():
        text = path.read_text()
        for name, body in blocks.items():
            text = replace_block(text, name, body)
        write_text(path, text)
    print(f"render_readme: updated {', '.join(str(p) for p in targets)}")

if __name__ == "__main__":
    main()
