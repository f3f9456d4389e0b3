"""The web demo (web_demo/) in a real headless Chromium, held to the Python runtime.

The page runs the packaged int8 .tflite with LiteRT.js; these tests drive it through
web_demo/tools/drive.mjs (playwright-core on the system Chromium) and compare what it computes with
ai-edge-litert and the runtime's own pre-processing here. The pure-JS modules (pre-processing, smoothing,
the cleanup of the coarse mask, contract checks) are also run directly in node against OpenCV and the runtime.

Needs node, Chromium (/usr/bin/chromium or $CHROMIUM_PATH) and `npm ci` in web_demo/; outside CI each
test skips saying which is missing, in CI (CI=true, as .ci/run runs) a missing tool is a failure.
"""
from __future__ import annotations

import base64
import inspect
import json
import os
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from portrait_mobile.metrics import iou
from portrait_mobile.paths import DEFAULT_INT8
from portrait_mobile.model_io import quantize_input, to_model_input
from portrait_mobile.runtime import Segmenter, read_image
from support import REPO, pfcn

WEB = REPO / "web_demo"
MODEL = DEFAULT_INT8
PHOTO = REPO / "docs" / "effects" / "pfcn-00887.png"  # a PFCN test photo already in the repo (320 px)
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def _need(ok: bool, why: str) -> None:
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{why} (CI must install it: see .ci/run)")
    pytest.skip(why)


@pytest.fixture(scope="module")
def node() -> str:
    exe = shutil.which("node")
    _need(exe is not None, "node is not installed")
    return exe  # type: ignore[return-value]


@pytest.fixture(scope="module")
def browser(node: str) -> str:
    _need(Path(CHROMIUM).is_file(), f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    _need((WEB / "node_modules" / "@litertjs" / "core").is_dir() and (WEB / "node_modules" / "playwright-core").is_dir(),
          "web_demo/node_modules is missing (cd web_demo && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci)")
    return node


def drive(node: str, *args: str | Path, models: Path = MODEL.parent, timeout: int = 240) -> dict:
    """Run a drive.mjs command against a server of `models` (default: the packaged model only)."""
    proc = subprocess.run([node, str(WEB / "tools" / "drive.mjs"), *map(str, args), "--models", str(models)], cwd=WEB,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"drive.mjs {args[0]} failed:\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout)


def run_js(node: str, code: str, stdin: bytes = b"") -> dict:
    """Run an ES module snippet in node with web_demo/js importable as ./js/...; its stdout is JSON."""
    proc = subprocess.run([node, "--input-type=module", "-e", code], cwd=WEB, input=stdin,
                          capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    return json.loads(proc.stdout)


def _b64_floats(s: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(s), np.float32)


@pytest.fixture(scope="module")
def segmenter() -> Segmenter:
    return Segmenter.from_file(MODEL)


# --- the JavaScript modules in node, against OpenCV and the runtime ---------------------------------

@pytest.mark.parametrize("size", [(600, 800), (640, 480), (427, 320), (200, 150), (256, 512), (1000, 999)])
def test_js_resize_matches_the_runtime(node: str, size: tuple[int, int], segmenter: Segmenter) -> None:
    """The page's resize is the runtime's (INTER_AREA shrinking, INTER_LINEAR otherwise), to +-1 level."""
    w, h = size
    rng = np.random.default_rng(w * h)
    # Smooth content plus noise: both the averaging and the edges matter.
    base = cv2.resize(rng.integers(0, 256, (h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)
    image = np.clip(base.astype(np.int16) + rng.integers(-20, 21, base.shape), 0, 255).astype(np.uint8)
    rgba = np.dstack([image, np.full((h, w), 255, np.uint8)])
    c = segmenter.contract
    code = f"""
import {{ resizeRGBA }} from './js/preprocess.js';
const chunks = []; for await (const c of process.stdin) chunks.push(c);
const out = resizeRGBA(new Uint8ClampedArray(Buffer.concat(chunks)), {w}, {h}, {c.input_width}, {c.input_height});
process.stdout.write(JSON.stringify(Array.from(out)));
"""
    proc = subprocess.run([node, "--input-type=module", "-e", code], cwd=WEB, input=rgba.tobytes(),
                          capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    js = np.asarray(json.loads(proc.stdout), np.int16).reshape(c.input_height, c.input_width, 3)
    py = quantize_input(to_model_input(image, c), c)[0].astype(np.int16)
    diff = np.abs(js - py)
    assert diff.max() <= 1, f"max diff {diff.max()} levels"
    if w > c.input_width or h > c.input_height:  # INTER_AREA: float in both, off by one only at .5 ties
        assert (diff > 0).mean() < 0.01
    # (INTER_LINEAR: OpenCV's uint8 path is fixed-point, so +-1 is common; never more.)


def test_js_smoothing_matches_video_segmenter(node: str) -> None:
    """MaskSmoother (the page, per frame) and VideoSegmenter._smooth (the runtime, frames 1/30 s apart)
    give the same masks on a clip."""
    from portrait_mobile.runtime.options import REFERENCE_FPS, SegmenterOptions
    from portrait_mobile.runtime.video import VideoSegmenter

    rng = np.random.default_rng(3)
    n, s = 4, 32
    frames = rng.integers(0, 256, (n, s, s, 3), dtype=np.uint8)
    frames[2] = frames[1]  # a still frame: full smoothing there
    probs = rng.random((n, s, s)).astype(np.float32)
    vs = VideoSegmenter.__new__(VideoSegmenter)
    vs.options = SegmenterOptions()  # the default smoothing, motion-aware
    vs.reset()
    expected = [vs._smooth(f, p, 1000.0 / REFERENCE_FPS) for f, p in zip(frames, probs)]
    code = f"""
import {{ MaskSmoother }} from './js/smoothing.js';
const chunks = []; for await (const c of process.stdin) chunks.push(c);
const buf = Buffer.concat(chunks);
const n = {n}, s = {s}, fb = s * s * 3;
const sm = new MaskSmoother();
const out = [];
for (let i = 0; i < n; i++) {{
  const rgb = new Uint8Array(buf.buffer, buf.byteOffset + i * fb, fb);
  const prob = new Float32Array(buf.buffer.slice(buf.byteOffset + n * fb + i * s * s * 4, buf.byteOffset + n * fb + (i + 1) * s * s * 4));
  out.push(Array.from(sm.update(prob, rgb, s, s)));
}}
process.stdout.write(JSON.stringify(out));
"""
    got = run_js(node, code, frames.tobytes() + probs.tobytes())
    for e, g in zip(expected, got):
        np.testing.assert_allclose(np.asarray(g, np.float32).reshape(s, s), e, atol=2e-3)


def test_js_constants_match_python(node: str) -> None:
    """The page's copies of the runtime's constants (schema, smoothing, blur strength) agree with it."""
    from portrait_mobile.contract import SCHEMA
    from portrait_mobile.runtime.effects import blur_background
    from portrait_mobile.runtime.options import DEFAULT_SMOOTHING, REFERENCE_FPS, SegmenterOptions, smoothing_weight
    from portrait_mobile.runtime.video import MOTION_SCALE

    js = run_js(node, """
import { SCHEMA } from './js/contract.js';
import { DEFAULT_SMOOTHING, MOTION_SCALE } from './js/smoothing.js';
import { DEFAULT_BLUR_STRENGTH } from './js/effects.js';
process.stdout.write(JSON.stringify({ SCHEMA, DEFAULT_SMOOTHING, MOTION_SCALE, DEFAULT_BLUR_STRENGTH }));
""")
    # the page smooths per frame; the runtime's default time constant is that weight at 30 fps
    assert smoothing_weight(SegmenterOptions().smoothing_ms, 1000.0 / REFERENCE_FPS) == DEFAULT_SMOOTHING
    assert js == {
        "SCHEMA": SCHEMA,
        "DEFAULT_SMOOTHING": DEFAULT_SMOOTHING,
        "MOTION_SCALE": MOTION_SCALE,
        "DEFAULT_BLUR_STRENGTH": inspect.signature(blur_background).parameters["strength"].default,
    }


def test_js_contract_checks_refuse_bad_contracts(node: str) -> None:
    contract = json.loads((MODEL.parent / f"{MODEL.name}.json").read_text())
    bad = {
        "schema": {**contract, "schema": "other/1"},
        "target": {**contract, "target": "onnx"},
        "int8": {**contract, "input_dtype": "int8"},
        "size": {**contract, "input_height": 0},
        # Tampered fields the page allocates from or computes with: each was accepted, then gave a silent
        # wrong mask (NaN, Infinity, a mask of ones), a TypeError at the first frame, or huge buffers.
        "huge": {**contract, "input_height": 10**9, "input_width": 10**9},
        "negative_output": {**contract, "output_height": -256, "output_width": -256},
        "string_output": {**contract, "output_height": "256", "output_width": "256"},
        "float_size": {**contract, "input_height": 256.5},
        "string_mean": {**contract, "mean": ["a", "b", "c"]},
        "zero_std": {**contract, "std": [0, 0, 0]},
        "no_input_quant": {**contract, "input_quant": None},
        "no_output_quant": {**contract, "output_quant": None},
        "bad_scale": {**contract, "output_quant": {**contract["output_quant"], "scale": "x"}},
        "bad_zero_point": {**contract, "input_quant": {**contract["input_quant"], "zero_point": 1000}},
        "array": [contract],
        "null": None,
    }
    refiner = json.loads((MODEL.parent / "refine-t40gs_int8.tflite.json").read_text())
    refiner.update(input_dtype="float32", output_dtype="float32", input_quant=None, output_quant=None)  # its fp32 export
    bad_refiner = {
        "stride": {**refiner, "tiles": {**refiner["tiles"], "out_stride": 3}},  # 40 / 3: a fractional output tile
        "output": {**refiner, "output_height": -40, "output_width": -40},
        "work": {**refiner, "tiles": {**refiner["tiles"], "work_long_side": 10**9}},
        "mean": {**refiner, "mean": [0.5, 0.5, 0.5]},  # the page feeds value / 255 whatever it says
        "tiles": {**refiner, "tiles": "__proto__"},
    }
    got = run_js(node, f"""
import {{ checkContract, checkRefinerContract, checkAgainstModel, ContractError }} from './js/contract.js';
const out = {{}};
for (const [cases, check, prefix] of [[{json.dumps(bad)}, checkContract, ''], [{json.dumps(bad_refiner)}, checkRefinerContract, 'refiner_']]) {{
  for (const [k, c] of Object.entries(cases)) {{
    try {{ check(c); out[prefix + k] = null; }} catch (e) {{ out[prefix + k] = e instanceof ContractError ? e.message : 'other: ' + e; }}
  }}
}}
const good = checkContract({json.dumps(contract)});
try {{ checkAgainstModel(good, [{{ shape: [1, 224, 224, 3], dtype: 'uint8' }}], [{{ shape: [1, 256, 256, 1], dtype: 'uint8' }}]); out.shape = null; }}
catch (e) {{ out.shape = e.message; }}
// The output's sides, not only their product (128 x 512 is 256 x 256 pixels, drawn scrambled).
try {{ checkAgainstModel(checkContract({{ ...{json.dumps(contract)}, output_height: 128, output_width: 512 }}), [{{ shape: [1, 256, 256, 3], dtype: 'uint8' }}], [{{ shape: [1, 256, 256, 1], dtype: 'uint8' }}]); out.output_shape = null; }}
catch (e) {{ out.output_shape = e.message; }}
try {{ checkAgainstModel(good, [{{ shape: [1, 256, 256, 3], dtype: 'uint8' }}], [{{ shape: [1, 256, 256, 1], dtype: 'uint8' }}]); out.ok = true; }}
catch (e) {{ out.ok = e.message; }}
out.refiner_ok = checkRefinerContract({json.dumps(refiner)}).model_name === {json.dumps(refiner["model_name"])};
// A "__proto__" key is JSON.parse's own property: checking such a contract pollutes no prototype.
checkContract(JSON.parse({json.dumps(json.dumps({**contract, "__proto__": {"polluted": 1}}))}));
out.polluted = ({{}}).polluted !== undefined;
process.stdout.write(JSON.stringify(out));
""")
    assert got.pop("ok") is True and got.pop("refiner_ok") is True and got.pop("polluted") is False
    for case, message in got.items():
        assert message and not message.startswith("other"), (case, message)
    assert "224" in got["shape"] and "128" in got["output_shape"]
    for case, field in (("huge", "input_height"), ("negative_output", "output_height"), ("string_mean", "mean[0]"),
                        ("zero_std", "std[0]"), ("no_input_quant", "input_quant"), ("bad_scale", "output_quant"),
                        ("refiner_stride", "out_stride"), ("refiner_work", "work_long_side")):
        assert field in got[case], (case, got[case])  # the message names the field


def test_server_isolation_headers_listing_and_confinement(node: str, tmp_path: Path) -> None:
    """serve.mjs: COOP/COEP on every answer (threaded WASM needs them), the model listing pairs each
    .tflite with its contract (int8 first), WASM as application/wasm, nothing outside its roots."""
    import re
    import urllib.error
    import urllib.request

    for name in ("b_int8.tflite", "a_fp32.tflite", "c.tflite"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "a_fp32.tflite.json").write_text(json.dumps({"precision": "fp32"}))
    (tmp_path / "b_int8.tflite.json").write_text(json.dumps({"precision": "int8"}))
    proc = subprocess.Popen([node, str(WEB / "serve.mjs"), "--port", "0", "--models", str(tmp_path)],
                            stdout=subprocess.PIPE, text=True)
    try:
        m = re.search(r"http://127\.0\.0\.1:\d+/", proc.stdout.readline())
        assert m, "serve.mjs printed no address"
        base = m.group(0)

        def get(path: str) -> tuple[int, dict, bytes]:
            try:
                with urllib.request.urlopen(base + path, timeout=10) as r:
                    return r.status, dict(r.headers), r.read()
            except urllib.error.HTTPError as e:
                return e.code, dict(e.headers), b""

        status, headers, body = get("")
        assert status == 200 and b'type="importmap"' in body
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        listing = json.loads(get("models/index.json")[2])
        assert [(e["model"], e["contract"]) for e in listing["models"]] == [
            ("b_int8.tflite", "b_int8.tflite.json"), ("a_fp32.tflite", "a_fp32.tflite.json"), ("c.tflite", None)]
        if (WEB / "node_modules" / "@litertjs").is_dir():
            status, headers, _ = get("node_modules/@litertjs/core/wasm/litert_wasm_internal.wasm")
            assert status == 200 and headers["Content-Type"] == "application/wasm"
        for private in ("serve.mjs", "package.json", "tools/drive.mjs", "models/..%2F..%2Fpackage.json",
                        "node_modules/playwright-core/package.json", "models/%2E%2E/serve.mjs"):
            assert get(private)[0] == 404, private
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class _Server:
    """serve.mjs on a free port of 127.0.0.1 (for the server's tests); `request` sends raw paths and headers."""

    def __init__(self, node: str, *args: str | Path) -> None:
        import re

        self.proc = subprocess.Popen([node, str(WEB / "serve.mjs"), "--port", "0", *map(str, args)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", self.proc.stdout.readline())
        assert m, f"serve.mjs printed no address: {self.proc.stderr.read()[-2000:]}"
        self.port = int(m.group(1))

    def request(self, path: str, host: str | None = None) -> tuple[int, bytes]:
        """(status, body) of GET `path` sent as it is; Host 127.0.0.1:<port> unless given. Raises
        ConnectionError (or http.client's errors) when the server cuts the answer or is gone."""
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.putrequest("GET", path, skip_host=True)
            conn.putheader("Host", host or f"127.0.0.1:{self.port}")
            conn.endheaders()
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def alive(self) -> bool:
        return self.proc.poll() is None and self.request("/")[0] == 200

    def close(self) -> str:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        return self.proc.stderr.read()


def test_server_answers_malformed_urls_with_400_and_keeps_serving(node: str, tmp_path: Path) -> None:
    """A malformed %-escape (decodeURIComponent throws) or an absolute-form target new URL cannot parse was an
    exception in the request handler that ended the server; now 400, and the next request is served."""
    (tmp_path / "m.tflite").write_bytes(b"x")
    server = _Server(node, "--models", tmp_path)
    try:
        assert server.request("/models/%E0%A4%A")[0] == 400
        assert server.request("/js/%ZZ.js")[0] == 400
        assert server.request("http://[/")[0] == 400
        assert server.alive()
        assert server.request("/models/m.tflite") == (200, b"x")
    finally:
        server.close()


def test_server_refuses_other_host_names(node: str, tmp_path: Path) -> None:
    """DNS rebinding: a page of another site whose name resolves to 127.0.0.1 sends its own name as Host; the
    server answers 403 to it and serves only 127.0.0.1, localhost and [::1] at its port."""
    (tmp_path / "m.tflite").write_bytes(b"x")
    server = _Server(node, "--models", tmp_path)
    try:
        p = server.port
        for host in (f"evil.example:{p}", "evil.example", f"127.0.0.1.evil.example:{p}", "127.0.0.1", f"127.0.0.1:{p + 1}"):
            status, body = server.request("/models/index.json", host=host)
            assert status == 403 and b"m.tflite" not in body, host
            assert server.request("/models/m.tflite", host=host)[0] == 403, host
        for host in (f"127.0.0.1:{p}", f"localhost:{p}", f"LOCALHOST:{p}", f"[::1]:{p}"):
            assert server.request("/models/m.tflite", host=host) == (200, b"x"), host
    finally:
        server.close()


def test_server_does_not_follow_links_out_of_its_folders(node: str, tmp_path: Path) -> None:
    """A symbolic link in the models folder to a file or a folder outside it is neither served nor listed
    (path.resolve alone followed it); a link that stays inside the folder is served."""
    models, outside = tmp_path / "models", tmp_path / "outside"
    models.mkdir()
    outside.mkdir()
    (outside / "secret.tflite").write_bytes(b"outside bytes")
    (outside / "secret.tflite.json").write_text(json.dumps({"precision": "outside"}))
    (models / "m.tflite").write_bytes(b"x")
    (models / "file_link.tflite").symlink_to(outside / "secret.tflite")
    (models / "m.tflite.json").symlink_to(outside / "secret.tflite.json")  # the contract of a served model
    (models / "dir_link").symlink_to(outside, target_is_directory=True)
    (models / "inner_link.tflite").symlink_to(models / "m.tflite")
    server = _Server(node, "--models", models)
    try:
        for path in ("/models/file_link.tflite", "/models/dir_link/secret.tflite", "/models/m.tflite.json"):
            status, body = server.request(path)
            assert status == 404 and b"outside" not in body, path
        assert server.request("/models/inner_link.tflite") == (200, b"x")
        listing = json.loads(server.request("/models/index.json")[1])
        assert {e["model"]: e["contract"] for e in listing["models"]} == {"inner_link.tflite": None, "m.tflite": None}
        assert all(e["precision"] is None for e in listing["models"])
    finally:
        server.close()


def test_server_survives_a_file_it_cannot_read(node: str, tmp_path: Path) -> None:
    """A read error after the file was found (here the reference /proc/self/mem, whose first read fails with
    EIO; also a file removed between the check and the read) was an unhandled 'error' event that ended the
    server; now that answer is cut and the server goes on. A models folder removed while serving is a 500."""
    import http.client

    if not Path("/proc/self/mem").is_file():
        pytest.skip("no /proc/self/mem here (Linux): no file whose read fails")
    models = tmp_path / "models"
    models.mkdir()
    server = _Server(node, "--models", models, "--reference", "/proc/self/mem")
    try:
        with pytest.raises((ConnectionError, http.client.HTTPException)):
            server.request("/reference/selfie_segmentation.tflite")
        assert server.alive()
        models.rename(tmp_path / "gone")
        status, body = server.request("/models/index.json")
        assert status == 500 and b"models" in body, (status, body)
        assert server.alive()
    finally:
        server.close()


@pytest.mark.parametrize("args,message", [
    (["--port", "abc"], "--port must be an integer"),
    (["--port", "70000"], "--port must be an integer"),
    (["--port", "-1"], "--port must be an integer"),
    (["--port", ""], "--port must be an integer"),
    (["--port", "1.5"], "--port must be an integer"),
    (["--colour", "red"], "usage:"),
    (["--port"], "usage:"),
])
def test_server_refuses_bad_flags(node: str, args: list[str], message: str) -> None:
    """Bad flags: a usage error naming the flag and exit code 2, not a stack trace from listen() (NaN)
    or a random port ('' is Number 0)."""
    proc = subprocess.run([node, str(WEB / "serve.mjs"), *args], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert message in proc.stderr and "at " not in proc.stderr, proc.stderr


def test_server_refuses_a_models_file_and_a_busy_port(node: str, tmp_path: Path) -> None:
    """--models naming a file, not a folder, and a port already in use: a clear error and exit code 1 (the
    first started and then failed on every listing; the second was a stack trace)."""
    (tmp_path / "m.tflite").write_bytes(b"x")
    proc = subprocess.run([node, str(WEB / "serve.mjs"), "--port", "0", "--models", str(tmp_path / "m.tflite")],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and "must be a folder" in proc.stderr, (proc.returncode, proc.stderr)
    server = _Server(node, "--models", tmp_path)
    try:
        proc = subprocess.run([node, str(WEB / "serve.mjs"), "--port", str(server.port), "--models", str(tmp_path)],
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 1 and "the port is in use" in proc.stderr, (proc.returncode, proc.stderr)
    finally:
        server.close()


# --- the page in Chromium --------------------------------------------------------------------------


def _parity(browser: str, segmenter: Segmenter, images: list[Path], tmp_path: Path, *args: str) -> dict:
    """Run the page on `images` both ways; per image: Python's input and probability, the page's."""
    c = segmenter.contract
    tensors, probs = [], []
    for path in images:
        image = read_image(path, exif=False)  # the page decodes without applying EXIF either
        tensors.append(quantize_input(to_model_input(image, c), c))
        probs.append(segmenter.predict_lowres(image))
    (tmp_path / "inputs.u8").write_bytes(np.concatenate([t.reshape(-1) for t in tensors]).tobytes())
    out = drive(browser, "parity", "--tensors", tmp_path / "inputs.u8", "--size", str(c.input_width), *args, *images)
    assert out["state"]["ready"], out
    rows = []
    for t, p, r in zip(tensors, probs, out["results"]):
        rows.append({
            "py_input": t[0], "py_prob": p,
            "exact": _b64_floats(r["exact"]).reshape(p.shape), "page": _b64_floats(r["page"]).reshape(p.shape),
            "page_input": np.frombuffer(base64.b64decode(r["pageInput"]), np.uint8).reshape(t.shape[1:]),
        })
    return {"running": out["state"]["running"], "rows": rows}


def test_page_matches_python_on_pfcn_test_images(browser: str, segmenter: Segmenter,
                                                 tmp_path: Path) -> None:
    """20 PFCN test photos: the same input tensor gives the same output as ai-edge-litert (the model in
    LiteRT.js), and the page's own decoding + pre-processing gives the runtime's mask (IoU >= 0.99)."""
    images = pfcn.image_paths(20)
    res = _parity(browser, segmenter, images, tmp_path)
    assert res["running"]["accelerator"] == "wasm"
    exact_diff, exact_iou, page_iou, input_diff, gt_py, gt_web = [], [], [], [], [], []
    for path, r in zip(images, res["rows"]):
        p, exact, page = r["py_prob"], r["exact"], r["page"]
        exact_diff.append(float(np.abs(exact - p).max()))
        exact_iou.append(iou(exact >= 0.5, p >= 0.5))
        page_iou.append(iou(page >= 0.5, p >= 0.5))
        input_diff.append(int(np.abs(r["page_input"].astype(int) - r["py_input"].astype(int)).max()))
        gt = cv2.imread(str(path.parent.parent / "masks" / f"{path.stem}.png"), cv2.IMREAD_GRAYSCALE) > 127
        h, w = gt.shape
        gt_py.append(iou(cv2.resize(p, (w, h)) >= 0.5, gt))
        gt_web.append(iou(cv2.resize(page, (w, h)) >= 0.5, gt))
    print(f"\n{len(images)} PFCN test images, browser ({res['running']['wasmFile']}) vs python (ai-edge-litert, XNNPACK):"
          f"\n  same input tensor: mask IoU mean {np.mean(exact_iou):.4f} min {min(exact_iou):.4f}, "
          f"max |prob diff| {max(exact_diff):.2e}"
          f"\n  page decoding + pre-processing: input max diff {max(input_diff)} levels, mask IoU mean "
          f"{np.mean(page_iou):.4f} min {min(page_iou):.4f}"
          f"\n  fg IoU vs ground truth (original size): python {100 * np.mean(gt_py):.2f}, browser {100 * np.mean(gt_web):.2f}")
    # The same XNNPACK int8 kernels in WASM: the same uint8 output, so the same probabilities.
    assert max(exact_diff) < 1e-6
    # The page's pre-processing is the runtime's: decoding and resizing agree to one level.
    assert max(input_diff) <= 1
    assert np.mean(page_iou) >= 0.99 and min(page_iou) >= 0.97
    assert abs(np.mean(gt_web) - np.mean(gt_py)) < 0.005


def test_webgpu_path_matches_python(browser: str, segmenter: Segmenter,
                                    tmp_path: Path) -> None:
    """The WebGPU path (on SwiftShader, Chromium's CPU Vulkan: correctness only, not speed) gives the
    runtime's masks to float rounding: GPU kernels compute the int8 model in floating point."""
    images = pfcn.image_paths(5)
    res = _parity(browser, segmenter, images, tmp_path, "--webgpu", "1", "--query", "accelerator=webgpu")
    assert res["running"]["accelerator"] == "webgpu", res["running"]
    assert res["running"]["build"] == "jspi"  # what the page picks for WebGPU
    ious = [iou(r["exact"] >= 0.5, r["py_prob"] >= 0.5) for r in res["rows"]]
    diffs = [float(np.abs(r["exact"] - r["py_prob"]).mean()) for r in res["rows"]]
    print(f"\nWebGPU (SwiftShader) vs python on {len(images)} PFCN test images: mask IoU mean {np.mean(ious):.4f} "
          f"min {min(ious):.4f}, mean |prob diff| {np.mean(diffs):.4f}")
    assert np.mean(ious) >= 0.99 and min(ious) >= 0.98


def test_webgpu_without_an_adapter_says_it_runs_on_wasm(browser: str) -> None:
    out = drive(browser, "state", "--query", "accelerator=webgpu")
    running = out["state"]["running"]
    assert out["state"]["ready"], out
    assert running["accelerator"] == "wasm" and "no WebGPU adapter" in running["note"], running


def test_benchmark_times_both_models(browser: str) -> None:
    """The in-page benchmark (what `node web_demo/bench.mjs` runs): both models timed, interleaved."""
    reference = REPO.parent / "shared" / "anchors" / "selfie_segmentation.tflite"
    if not reference.is_file():
        pytest.skip(f"MediaPipe's model not found at {reference}")
    proc = subprocess.run([browser, str(WEB / "bench.mjs"), "--runs", "3", "--builds", "threads",
                           "--models", str(MODEL.parent)], cwd=WEB, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    (r,) = out["results"]
    assert out["litertjs"] and out["chromium"]
    assert r["wasmFile"] == "litert_wasm_threaded_internal.wasm" and r["threads"] == 1
    assert r["ours"]["model"] == MODEL.name and r["ours"]["n"] == r["mediapipe"]["n"] == 3
    assert r["ours"]["median"] > 0 and r["mediapipe"]["median"] > 0
    assert r["ratio"] == pytest.approx(r["ours"]["median"] / r["mediapipe"]["median"])


def _write_y4m(path: Path, frames: list[np.ndarray], fps: int = 15) -> None:
    """YUV4MPEG2 4:2:0 (what Chromium's fake camera reads) from RGB frames with even sides."""
    h, w = frames[0].shape[:2]
    with path.open("wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            f.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())


def test_fake_camera_stream_gets_masks(browser: str, segmenter: Segmenter, tmp_path: Path) -> None:
    """getUserMedia on a fake y4m camera: the page segments live frames, and the mask is the person."""
    photo = read_image(PHOTO)
    frame = cv2.resize(photo, (480, 640), interpolation=cv2.INTER_LINEAR)
    clip = tmp_path / "clip.y4m"
    _write_y4m(clip, [frame] * 10)
    # What the page should see: the same frame after the YUV round trip.
    seen = cv2.cvtColor(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420), cv2.COLOR_YUV2RGB_I420)
    expected = segmenter.predict_lowres(seen) >= 0.5
    out = drive(browser, "camera", "--y4m", clip, "--frames", "12")
    state = out["state"]
    assert state["error"] is None, out
    assert state["source"] == "camera 480x640"
    assert state["frames"] >= 12
    assert state["lastRunMs"] > 0 and out["fps"] != "-"
    got = _b64_floats(state["lastProbB64"]).reshape(expected.shape) >= 0.5
    assert iou(got, expected) >= 0.95, iou(got, expected)
    # Each frame's smoothed mask is cleaned before it is drawn, as VideoSegmenter's finish does (on this frame the
    # runtime's clean_regions drops a speck and fills holes: measured 1,110 of the model's 65,536 pixels).
    assert state["cleanup"]["minRegion"] == 0.1 and state["cleanup"]["maxHole"] == 0.002
    assert state["cleanup"]["changed"] > 0, state["cleanup"]


def test_page_effects_match_the_runtime_effects(browser: str, segmenter: Segmenter) -> None:
    """Blur, replace and the mask view drawn by the page on a photo, against portrait_mobile.runtime.effects on the
    runtime's mask (canvas bilinear upsampling and the canvas blur filter differ slightly)."""
    from portrait_mobile.runtime.effects import blur_background, mask_image, replace_background

    image = read_image(PHOTO)
    mask = segmenter.segment(image)
    expected = {
        "replace": replace_background(image, mask, "#3A7BD5"),  # the page's default backdrop colour
        "blur": blur_background(image, mask),
        "mask": np.repeat(mask_image(mask)[..., None], 3, axis=2),
    }
    out = drive(browser, "photo", "--photo", PHOTO, "--effects", ",".join(expected), "--query", "effect=none")
    assert out["state"]["source"] == f"photo {image.shape[1]}x{image.shape[0]}", out["state"]
    # (effect: mean, 99th percentile) of |page - python| in levels; measured 0.21/1, 0.64/8, 0.17/2.
    bounds = {"replace": (1.0, 3), "blur": (2.0, 15), "mask": (1.0, 4)}
    for effect, want in expected.items():
        d = out["drawn"][effect]
        got = np.frombuffer(base64.b64decode(d["rgbaB64"]), np.uint8).reshape(d["height"], d["width"], 4)[..., :3]
        diff = np.abs(got.astype(int) - want.astype(int))
        mean_bound, p99_bound = bounds[effect]
        assert diff.mean() < mean_bound and np.percentile(diff, 99) <= p99_bound, (effect, diff.mean(), np.percentile(diff, 99))


@pytest.mark.parametrize("case", ["missing", "mismatched"])
def test_bad_contract_is_an_error_on_the_page(browser: str, tmp_path: Path, case: str) -> None:
    """No contract, or one that disagrees with the model, shows an error instead of a black mask."""
    shutil.copyfile(MODEL, tmp_path / MODEL.name)
    if case == "mismatched":
        contract = json.loads((MODEL.parent / f"{MODEL.name}.json").read_text())
        contract.update(input_height=224, input_width=224)
        (tmp_path / f"{MODEL.name}.json").write_text(json.dumps(contract))
    out = drive(browser, "state", models=tmp_path)
    assert not out["state"]["ready"]
    assert out["errorText"], out
    assert ("no contract" in out["errorText"]) if case == "missing" else ("224" in out["errorText"])


def test_js_listing_names_stay_in_the_models_folder(node: str) -> None:
    """contract.js's checkListing refuses a /models/index.json (a tampered or foreign server's) whose names are
    paths or URLs, or that is not a listing at all; modelUrl encodes the names a file may have (#, ?, %), which
    the page put into URLs as they were ('a#1.tflite.json' fetched /models/a)."""
    good = {"model": "m_int8.tflite", "contract": "m_int8.tflite.json", "precision": "int8"}
    bad = {
        "dotdot_contract": {"models": [{**good, "contract": "../js/app.js.json"}]},
        "dotdot_model": {"models": [{**good, "model": "../../x.tflite"}]},
        "url_model": {"models": [{**good, "model": "http://evil.example/m.tflite"}]},
        "backslash": {"models": [{**good, "model": "..\\m.tflite"}]},
        "not_tflite": {"models": [{**good, "model": "m.json"}]},
        "number": {"models": [{**good, "model": 7}]},
        "no_models": {"models": {"m.tflite": "x"}},
        "not_object": [good],
    }
    got = run_js(node, f"""
import {{ checkListing, modelUrl, ContractError }} from './js/contract.js';
const out = {{}};
for (const [k, l] of Object.entries({json.dumps(bad)})) {{
  try {{ checkListing(l); out[k] = null; }} catch (e) {{ out[k] = e instanceof ContractError ? e.message : 'other: ' + e; }}
}}
out.ok = checkListing({{ models: [{json.dumps(good)}, {{ model: 'b.tflite', contract: null }}], reference: false }}).models.length;
out.urls = ['a#1 ?%.tflite', 'https:evil.tflite'].map(modelUrl);
try {{ modelUrl('../x.tflite'); out.dotdot = null; }} catch (e) {{ out.dotdot = e.message; }}
process.stdout.write(JSON.stringify(out));
""")
    assert got.pop("ok") == 2
    assert got.pop("urls") == ["/models/a%231%20%3F%25.tflite", "/models/https%3Aevil.tflite"]
    for case, message in got.items():
        assert message and not message.startswith("other") and "models/index.json" in message, (case, message)


@pytest.mark.parametrize("query,name", [("smoothing=abc", "smoothing"), ("smoothing=1.5", "smoothing"),
                                        ("accelerator=gpu", "accelerator"), ("runs=0", "runs"),
                                        ("effect=sepia", "effect")])
def test_page_refuses_bad_url_parameters(browser: str, query: str, name: str) -> None:
    """A bad URL parameter is an error naming it: ?smoothing=abc was NaN (NaN masks on the camera, without a
    word), ?accelerator=gpu LiteRT.js's 'Invalid accelerator: ', ?effect=sepia blur without a word."""
    out = drive(browser, "state", "--query", query)
    assert not out["state"]["ready"], out["state"]
    assert out["errorText"] and f"URL parameter {name}=" in out["errorText"], out["errorText"]


def test_page_loads_a_model_whose_name_needs_escaping(browser: str, tmp_path: Path) -> None:
    """A model file named with '#', '%' and a space (legal file names, listed as they are) loads: its URLs
    are encoded (the page fetched '/models/a' for 'a#1 %_int8.tflite.json')."""
    name = "a#1 %_int8.tflite"
    shutil.copyfile(MODEL, tmp_path / name)
    shutil.copyfile(MODEL.parent / f"{MODEL.name}.json", tmp_path / f"{name}.json")
    out = drive(browser, "state", models=tmp_path)
    assert out["state"]["ready"], out
    assert out["state"]["error"] is None


@pytest.mark.parametrize("case", ["dotdot", "url", "not_a_listing"])
def test_page_refuses_a_tampered_listing(browser: str, tmp_path: Path, case: str) -> None:
    """A /models/index.json (here swapped in the browser, as a tampered server would send it) whose names are
    paths out of the models folder or URLs, or that is no listing, is an error naming it; before, '../' left
    the folder ('/models/../js/app.js' is /js/app.js) and a wrong listing was a TypeError."""
    entry = {"model": MODEL.name, "contract": f"{MODEL.name}.json", "precision": "int8"}
    listing = {
        "dotdot": {"models": [{**entry, "contract": f"../models/{MODEL.name}.json"}], "reference": False},
        "url": {"models": [{**entry, "model": f"//evil.example/{MODEL.name}"}], "reference": False},
        "not_a_listing": {"files": [entry]},
    }[case]
    (tmp_path / "index.json").write_text(json.dumps(listing))
    out = drive(browser, "state", "--listing", tmp_path / "index.json")
    assert not out["state"]["ready"], out
    assert out["errorText"] and "models/index.json" in out["errorText"], out["errorText"]


def test_page_refuses_a_photo_over_the_pixel_limit(browser: str) -> None:
    """A photo of more than the page's pixel limit (the runtime's MAX_PIXELS, 120 Mpx; ?max_pixels= here so
    that the test photo is over it) is an error naming its size. Measured before: a 17000 x 17000 photo
    (past Chromium's canvas area) was segmented as a blank frame, its mask a black frame's, without a word."""
    out = drive(browser, "state", "--photo", PHOTO, "--query", "max_pixels=1000")
    assert out["state"]["frames"] == 0
    assert out["errorText"] and "more than 1000 pixels" in out["errorText"] and PHOTO.name in out["errorText"], out["errorText"]


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (RGB, 8 bits) but whose pixels stop after a few rows: a
    small file that would be a huge bitmap once decoded."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = zlib.compress(bytes(4 * (1 + 3 * width)))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", rows) + chunk(b"IEND", b""))


@pytest.mark.parametrize("flag, where", [("--photo", ""), ("--background", "background ")])
def test_page_refuses_an_oversized_photo_from_its_header(browser: str, tmp_path: Path, flag: str, where: str) -> None:
    """A photo or backdrop whose header claims more pixels than the limit (20000 x 20000, a 30 KB file) is
    refused by its stored size, before it is decoded: createImageBitmap decoded the whole photo first (1.6 GB
    here) and only then was its size checked; for a backdrop it never was."""
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header(20000, 20000))
    args = ["--photo", bomb] if flag == "--photo" else ["--photo", PHOTO, "--background", bomb, "--effects", "replace"]
    out = drive(browser, "photo" if flag == "--background" else "state", *args)
    text = out["errorText"]
    assert text and f"{where}bomb.png" in text and "is 20000x20000, more than 120000000 pixels" in text, text


def test_page_shows_a_background_that_does_not_decode(browser: str, tmp_path: Path) -> None:
    """A backdrop file that does not decode is an error on the page (it was an unhandled rejection: nothing
    shown, the old backdrop kept)."""
    bad = tmp_path / "backdrop.png"
    bad.write_bytes(PHOTO.read_bytes()[:200])  # a cut PNG
    out = drive(browser, "photo", "--photo", PHOTO, "--background", bad, "--effects", "replace")
    assert out["errorText"] and "background backdrop.png" in out["errorText"], out["errorText"]


def test_photo_before_a_model_loads_keeps_the_error(browser: str, tmp_path: Path) -> None:
    """A photo chosen when no model could be loaded (here: no contract) says so and keeps the reason; it was
    'Cannot read properties of null', which hid it."""
    shutil.copyfile(MODEL, tmp_path / MODEL.name)
    out = drive(browser, "state", "--photo", PHOTO, models=tmp_path)
    assert out["errorText"] and "no model is loaded" in out["errorText"] and "no contract" in out["errorText"], out["errorText"]


# The stand-in refiner of the band tests in JS (the Python `runner` beside each): the 4th channel of a
# 40 x 40 tile averaged over 2 x 2, squared.
JS_STAND_IN = """const run = async (tile) => {
  const out = new Float32Array(400);
  for (let y = 0; y < 20; y++) for (let x = 0; x < 20; x++) {
    let s = 0;
    for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) s += tile[((2 * y + dy) * 40 + 2 * x + dx) * 4 + 3];
    const p = s / 4 / 255; out[y * 20 + x] = p * p;
  }
  return out;
};
"""


def test_js_feather_weight_matches_the_runtime(node: str) -> None:
    """band.js's featherWeight (how much of the refined value each working-frame pixel takes: the refined region
    hands over to the mask around it over band.FEATHER pixels) is the runtime's band.feather_weight, value for
    value, on a hand-made layout: tiles that meet the frame's borders (one reaching past the bottom and right),
    adjacent cores (their seam is no edge), a lone core, a core at a negative origin; widths FEATHER, 2 and 0."""
    from portrait_mobile.runtime.band import FEATHER, feather_weight
    from portrait_mobile.tile_grid import TileGrid

    grid = TileGrid(8, 0, 1, 512)
    h, w = 29, 37  # not multiples of the core
    origins = np.array([[0, 0], [0, 8], [8, 8], [16, 24], [24, 32], [24, 24], [8, 32], [-4, 28]])
    code = f"""
import {{ FEATHER, featherWeight }} from './js/band.js';
const b64 = (a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
const origins = {json.dumps(origins.tolist())};
process.stdout.write(JSON.stringify({{ feather: FEATHER,
  weights: [FEATHER, 2, 0].map((f) => b64(featherWeight(origins, {grid.core}, {w}, {h}, f))) }}));
"""
    out = run_js(node, code)
    assert out["feather"] == FEATHER == 4
    for width, got in zip([FEATHER, 2, 0], out["weights"]):
        want = feather_weight(origins, grid, (h, w), width)
        assert np.array_equal(_b64_floats(got).reshape(h, w), want), width
    ramp = feather_weight(origins, grid, (h, w))
    assert set(np.unique(ramp).tolist()) == {np.float32(k / 5) for k in range(6)}  # the layout has every step


def _band_golden():
    """tests/demos/band_golden.py: the hand-made frame (and stand-in refiner) of the Kotlin band test's golden values."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("band_golden", Path(__file__).with_name("band_golden.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_js_tiles_and_blend_match_the_runtime(node: str) -> None:
    """band.js's tile grid is the runtime's (band.select_tiles): the offset with the fewest tiles
    (band.fewest_tiles_offset, its step core / band.OFFSET_STEPS) and the origins, negative ones included, on
    hand-made masks and cores (steps 1 to 6) and on the hand-made frame of tests/demos/band_golden.py, whose
    offset is not (0, 0); then, on that frame, the tiles gathered, run through the golden stand-in refiner,
    blended and handed over (cores above and left of the frame) value for value (band.refine_work)."""
    from portrait_mobile.runtime.band import (OFFSET_STEPS, contour, fewest_tiles_offset, offset_step, refine_work,
                                              select_tiles)
    from portrait_mobile.tile_grid import TileGrid

    bg = _band_golden()
    g = bg.golden()
    grid = TileGrid(**bg.GRID)
    rng = np.random.default_rng(3)
    masks = [(g["channel"], grid.core)]
    for core, (h, w) in [(8, (37, 45)), (12, (50, 41)), (16, (64, 64)), (40, (203, 150)), (48, (97, 130)), (7, (30, 23))]:
        y, x = np.mgrid[0:h, 0:w]
        blob = (((x - w * rng.uniform(0.2, 0.8)) / (w * rng.uniform(0.2, 0.5))) ** 2
                + ((y - h * rng.uniform(0.2, 0.8)) / (h * rng.uniform(0.2, 0.5))) ** 2) <= 1
        masks.append((np.where(blob, 200, 30).astype(np.uint8), core))
    cases = [{"h": m.shape[0], "w": m.shape[1], "core": c, "mask": base64.b64encode(m.tobytes()).decode()}
             for m, c in masks]
    code = f"""
import {{ OFFSET_STEPS, contour, fewestTilesOffset, offsetStep, selectTiles }} from './js/band.js';
const cases = {json.dumps(cases)};
process.stdout.write(JSON.stringify({{ steps: OFFSET_STEPS, out: cases.map(({{ h, w, core, mask }}) => {{
  const m = new Uint8Array(Buffer.from(mask, 'base64'));
  return {{ step: offsetStep(core), offset: fewestTilesOffset(contour(m, w, h), w, h, core),
    tiles: selectTiles(m, w, h, core), unshifted: selectTiles(m, w, h, core, [0, 0]) }};
}}) }}));
"""
    out = run_js(node, code)
    assert out["steps"] == OFFSET_STEPS == 8
    for (m, core), got in zip(masks, out["out"]):
        gr = TileGrid(core, 0, 1, 512)
        assert got["step"] == offset_step(gr), core
        assert tuple(got["offset"]) == fewest_tiles_offset(contour(m), gr), core
        assert got["tiles"] == select_tiles(m, gr).tolist(), core
        assert got["unshifted"] == select_tiles(m, gr, (0, 0)).tolist(), core
    golden = out["out"][0]
    assert golden["offset"] != [0, 0] and min(min(o) for o in golden["tiles"]) < 0  # the port's new paths run
    assert len(golden["tiles"]) < len(golden["unshifted"])

    # The blend on the golden frame, fed Python's working frame and channel; the stand-in in float32 as numpy.
    wh, ww = g["channel"].shape
    code = f"""
import {{ blendTile, featherTiles, gatherTile, selectTiles }} from './js/band.js';
const chunks = []; for await (const c of process.stdin) chunks.push(c);
const buf = Buffer.concat(chunks);
const rgb = new Uint8Array(buf.subarray(0, {wh * ww * 3}));
const chan = new Uint8Array(buf.subarray({wh * ww * 3}));
const f = Math.fround, s = {grid.out_tile}, t = {grid.tile};
const standIn = (tile) => {{
  const at = (y, x, c) => tile[(y * t + x) * 4 + c];
  const pool = (y, x, c) => f(f(f(at(2 * y, 2 * x, c) + at(2 * y, 2 * x + 1, c)) + f(at(2 * y + 1, 2 * x, c)
    + at(2 * y + 1, 2 * x + 1, c))) * f(1 / 1020));
  const out = new Float32Array(s * s);
  for (let i = 0; i < s * s; i++) {{
    const p = pool(Math.floor(i / s), i % s, 3), red = pool(Math.floor(i / s), i % s, 0);
    out[i] = f(f(f(p * p) * f(0.9)) + f(red * f(0.1)));
  }}
  return out;
}};
const prob = new Float32Array(chan.length);
for (let i = 0; i < prob.length; i++) prob[i] = f(chan[i] * f(1 / 255));
const base = Float32Array.from(prob);
const origins = selectTiles(chan, {ww}, {wh}, {grid.core});
for (const o of origins) blendTile(prob, {ww}, {wh}, standIn(gatherTile(rgb, chan, {ww}, {wh}, o, {grid.core}, {grid.margin})), s, o, {grid.core}, {grid.margin});
featherTiles(prob, base, {ww}, {wh}, origins, {grid.core});
process.stdout.write(JSON.stringify({{ origins, prob: Buffer.from(prob.buffer).toString('base64') }}));
"""
    out = run_js(node, code, g["work_rgb"].tobytes() + g["channel"].tobytes())
    assert out["origins"] == g["origins"].tolist()
    want = refine_work(g["work_rgb"], g["channel"], bg.stand_in, grid)
    assert np.array_equal(want, g["refined"])
    js = _b64_floats(out["prob"]).reshape(want.shape)
    assert np.abs(js - want).max() < 1e-6, np.abs(js - want).max()
    assert np.abs(want[:4] - g["channel"][:4] / np.float32(255)).max() > 0.01  # the cores above the frame wrote


@pytest.mark.parametrize("channel", ["coarse_probability", "guided_probability"])
def test_js_band_logic_matches_the_runtime(node: str, segmenter: Segmenter, channel: str) -> None:
    """band.js (quality accurate in the page): the working frame, the 4th channel (the guided filter at
    the working frame), the contour's tiles and the blend are the runtime's (runtime.band), run here with
    the same stand-in refiner (the tile's 4th channel, squared, at half resolution)."""
    from portrait_mobile.contract import ModelContract, refiner_fields
    from portrait_mobile.runtime.band import refine_work, refiner_input, select_tiles
    from portrait_mobile.tile_grid import TileGrid

    grid = TileGrid(40, 0, 2, 512)
    # A PFCN-sized photo: brought down to 512 (INTER_AREA), the filter's coefficients on a coarser grid.
    image = cv2.resize(read_image(PHOTO, exif=False), (600, 800), interpolation=cv2.INTER_LINEAR)
    coarse = segmenter.predict_lowres(image)
    h, w = image.shape[:2]

    def runner(tiles: np.ndarray) -> np.ndarray:
        p = tiles[..., 3].astype(np.float32).reshape(len(tiles), 20, 2, 20, 2).mean(axis=(2, 4)) / 255
        return p * p

    img_w, p_w = refiner_input(image, coarse, grid, channel)
    want = refine_work(img_w, p_w, runner, grid, batch=4)
    contract = {k: v for k, v in json.loads(ModelContract(model_name="r", version="1", **refiner_fields(grid, channel))
                                            .to_json()).items() if k in ("tiles", "extra_channels")}
    rgba = np.dstack([image, np.full((h, w), 255, np.uint8)])
    ph, pw = coarse.shape
    code = f"""
import {{ refineBand }} from './js/band.js';
const chunks = []; for await (const c of process.stdin) chunks.push(c);
const buf = Buffer.concat(chunks);
const rgba = new Uint8ClampedArray(buf.subarray(0, {h * w * 4}));
const coarse = new Float32Array(buf.buffer.slice(buf.byteOffset + {h * w * 4}, buf.byteOffset + buf.length));
{JS_STAND_IN}const r = await refineBand(rgba, {w}, {h}, coarse, {pw}, {ph}, {json.dumps(contract)}, run);
process.stdout.write(JSON.stringify({{ w: r.width, h: r.height, tiles: r.tiles, prob: Array.from(r.prob) }}));
"""
    proc = subprocess.run([node, "--input-type=module", "-e", code], cwd=WEB,
                          input=rgba.tobytes() + coarse.astype(np.float32).tobytes(), capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    out = json.loads(proc.stdout)
    assert (out["h"], out["w"]) == want.shape
    assert abs(out["tiles"] - len(select_tiles(p_w, grid))) <= 1
    js = np.asarray(out["prob"], np.float32).reshape(want.shape)
    print(f"\nband ({channel}): |JS - python| max {np.abs(js - want).max():.2e} mean {np.abs(js - want).mean():.2e}")
    assert np.abs(js - want).mean() < 0.005 and iou(js >= 0.5, want >= 0.5) > 0.99


@pytest.mark.parametrize("snap", [dict(), dict(long_side=512)], ids=["accurate", "shrunk"])
def test_js_snap_matches_the_runtime(node: str, segmenter: Segmenter, snap: dict) -> None:
    """band.js's snap (the accurate level's last step: the refined tiles snapped to the photo's own edges by the
    guided filter inside them) is the runtime's band.refine_band(..., snap=...): fed the runtime's refined
    working frame and tiles (the snap alone), and end to end from the photo, with the stand-in refiner of
    test_js_band_logic_matches_the_runtime. On a 603x801 photo: ACCURATE_SNAP at the photo's size (k = 1: radius
    8, coefficients on a 150x200 grid); long side 512, the photo shrunk by 2 first (k = 2: 301x400, its last row
    and column dropped, the result grown back)."""
    from portrait_mobile.contract import ModelContract, refiner_fields
    from portrait_mobile.runtime.band import Snap, refine_band, refine_work, refiner_input, select_tiles
    from portrait_mobile.tile_grid import TileGrid

    grid = TileGrid(40, 0, 2, 512)
    channel = "guided_probability"
    image = cv2.resize(read_image(PHOTO, exif=False), (603, 801), interpolation=cv2.INTER_LINEAR)
    coarse = segmenter.predict_lowres(image)
    h, w = image.shape[:2]
    sn = Snap(**snap)

    def runner(tiles: np.ndarray) -> np.ndarray:
        p = tiles[..., 3].astype(np.float32).reshape(len(tiles), 20, 2, 20, 2).mean(axis=(2, 4)) / 255
        return p * p

    img_w, p_w = refiner_input(image, coarse, grid, channel)
    refined = refine_work(img_w, p_w, runner, grid, batch=4)
    origins = select_tiles(p_w, grid)
    want = refine_band(image, coarse, runner, grid, batch=4, channel=channel, snap=sn)
    contract = {k: v for k, v in json.loads(ModelContract(model_name="r", version="1", **refiner_fields(grid, channel))
                                            .to_json()).items() if k in ("tiles", "extra_channels")}
    rgba = np.dstack([image, np.full((h, w), 255, np.uint8)])
    ph, pw = coarse.shape
    wh, ww = refined.shape
    js_snap = json.dumps({"radius": sn.radius, "longSide": sn.long_side, "subsample": sn.subsample})
    code = f"""
import {{ refineBand, snapBand }} from './js/band.js';
const chunks = []; for await (const c of process.stdin) chunks.push(c);
const buf = Buffer.concat(chunks);
const floats = (at, n) => new Float32Array(buf.buffer.slice(buf.byteOffset + at, buf.byteOffset + at + 4 * n));
const rgba = new Uint8ClampedArray(buf.subarray(0, {h * w * 4}));
const coarse = floats({h * w * 4}, {pw * ph});
const refined = floats({h * w * 4 + pw * ph * 4}, {ww * wh});
const origins = {json.dumps(origins.tolist())};
{JS_STAND_IN}const alone = snapBand(rgba, {w}, {h}, refined, {ww}, {wh}, origins, {grid.core}, {js_snap});
const e2e = await refineBand(rgba, {w}, {h}, coarse, {pw}, {ph}, {json.dumps(contract)}, run, {js_snap});
const b64 = (a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
process.stdout.write(JSON.stringify({{ alone: b64(alone.prob), snapAt: [alone.snapWidth, alone.snapHeight],
  e2e: b64(e2e.prob), size: [e2e.width, e2e.height], work: [e2e.workWidth, e2e.workHeight], tiles: e2e.tiles }}));
"""
    out = run_js(node, code, rgba.tobytes() + coarse.astype(np.float32).tobytes() + refined.astype(np.float32).tobytes())
    k = 1 if not snap else 2
    assert out["snapAt"] == [w // k, h // k] and out["size"] == [w, h] and out["work"] == [ww, wh]
    assert abs(out["tiles"] - len(origins)) <= 1
    alone = _b64_floats(out["alone"]).reshape(want.shape)
    e2e = _b64_floats(out["e2e"]).reshape(want.shape)
    unsnapped = cv2.resize(refined, (w, h), interpolation=cv2.INTER_LINEAR)
    print(f"\nsnap {sn}: |JS - python| snap alone max {np.abs(alone - want).max():.2e} mean {np.abs(alone - want).mean():.2e}; "
          f"end to end max {np.abs(e2e - want).max():.2e} mean {np.abs(e2e - want).mean():.2e}; "
          f"the snap moved the mask by up to {np.abs(want - unsnapped).max():.2f}")
    assert np.abs(want - unsnapped).max() > 0.1  # the snap changed something
    # On the runtime's refined frame the JS snap is the runtime's to rounding: JS computes in double, and its
    # INTER_AREA guide for the coefficients' grid is a level off at ~1% of values (test_js_resize_matches_the_runtime).
    # Measured: max 1.5e-5 (k = 1) and 9.0e-4 (k = 2), mean 1e-6 or less.
    assert np.abs(alone - want).max() < 5e-3 and np.abs(alone - want).mean() < 1e-4, np.abs(alone - want).max()
    # End to end the working frame's uint8 channel may differ by a level at a tie, as in the band test.
    assert np.abs(e2e - want).mean() < 0.005 and iou(e2e >= 0.5, want >= 0.5) > 0.99


def test_page_runs_the_refiner_when_one_is_served(browser: str, tmp_path: Path) -> None:
    """Quality accurate in the page: an fp32 refiner served beside the model (LiteRT.js feeds no int8
    tensors) is found by its contract's role and run on the contour's tiles, then snapped to the photo's edges;
    the mask it draws is the runtime's accurate mask. Without ?quality=accurate the page says it runs fast."""
    pytest.importorskip("litert_torch")
    from portrait_export.api import export
    from portrait_mobile.contract_io import sidecar_path
    from portrait_mobile.runtime.effects import mask_image
    from portrait_mobile.runtime.options import SegmenterOptions

    models = tmp_path / "models"
    models.mkdir()
    for p in (MODEL, sidecar_path(MODEL)):
        shutil.copy2(p, models / p.name)
    (r,) = export("tflite", refiner=True, precision="fp32", out_dir=models, n_calib=4, n_val=4)
    fast = drive(browser, "state", models=models)
    assert fast["state"]["quality"]["level"] == "fast", fast
    image = read_image(PHOTO)
    want = mask_image(Segmenter.from_file(MODEL, SegmenterOptions(quality="accurate", refiner=str(r.path))).segment(image))
    out = drive(browser, "photo", "--photo", PHOTO, "--effects", "mask", "--query", "quality=accurate&effect=none",
                models=models)
    assert out["state"]["quality"] == {"level": "accurate", "refiner": r.path.name} and out["state"]["tiles"] > 0, out["state"]
    d = out["drawn"]["mask"]
    got = np.frombuffer(base64.b64decode(d["rgbaB64"]), np.uint8).reshape(d["height"], d["width"], 4)[..., 0]
    diff = np.abs(got.astype(int) - want.astype(int)).mean()
    print(f"\npage's accurate mask (snapped) vs the runtime's: IoU {iou(got >= 128, want >= 128):.4f}, "
          f"mean |diff| {diff:.2f} levels")
    # The runtime's accurate level snaps the refined tiles to the photo's edges, and so does the page: measured
    # IoU 1.0000, mean 0.00 levels (without the page's snap: IoU 0.995, mean 6.2 levels).
    assert iou(got >= 128, want >= 128) > 0.99 and diff < 1.0, diff


# --- the cleanup of the coarse mask (js/cleanup.js), against postprocess.clean_regions ----------------


def _portable_and_ipp(fn, *args, **kwargs):
    """fn(*args) with OpenCV's portable distance transform (distransform.cpp, fixed point: what cleanup.js is,
    and what builds without Intel IPP run), and with IPP's where this build has it (float sums that can differ
    in the last bits). Returns (portable, ipp)."""
    was = cv2.ipp.useIPP()
    try:
        cv2.ipp.setUseIPP(False)
        portable = fn(*args, **kwargs)
        cv2.ipp.setUseIPP(True)  # stays off where the build has no IPP
        ipp = fn(*args, **kwargs)
    finally:
        cv2.ipp.setUseIPP(was)
    return portable, ipp


def _person(h: int = 100, w: int = 100) -> np.ndarray:
    """tests/mobile/runtime/test_cleanup.py's person: 60x40 at 0.9 with a 1-px soft edge of 0.3."""
    prob = np.zeros((h, w), np.float32)
    prob[19:81, 19:61] = 0.3
    prob[20:80, 20:60] = 0.9
    return prob


def _cleanup_cases() -> list[tuple[str, np.ndarray, dict, str]]:
    """(name, mask, cleanup as {minRegion, maxHole} (None: the default), what clean_regions must do to it:
    'zeroed', 'filled', 'both' or 'unchanged'). Default halo: round(0.02 * hypot(100, 100)) = 3."""
    cases = []
    blob = _person()
    blob[4:10, 84:90] = 0.3  # 36 px at >= 0.5 against 2,400: 1.5%, with a soft edge of 0.3
    blob[5:9, 85:89] = 0.8
    cases.append(("blob", blob, None, "zeroed"))
    cases.append(("blob_min_region_off", blob, {"minRegion": 0, "maxHole": 0.002}, "unchanged"))
    near = _person()
    near[45:52, 63:68] = 0.8  # a blob 3 px right of the person: their soft edges meet in between
    near[44:53, 61:69] = np.maximum(near[44:53, 61:69], 0.4)
    cases.append(("near_blob", near, None, "zeroed"))
    second = _person()
    second[40:80, 70:90] = 0.9  # 800 px against 2,400: above 0.1, a second person
    cases.append(("second_region", second, None, "unchanged"))
    at_fraction = _person()
    at_fraction[84:96, 70:90] = 0.9  # 240 px: exactly 0.1 x 2,400, not below it: kept
    cases.append(("region_at_fraction", at_fraction, None, "unchanged"))
    below = at_fraction.copy()
    below[95, 89] = 0.0  # 239 px: below it
    cases.append(("region_below_fraction", below, None, "zeroed"))
    limb = _person()
    limb[80, 60] = limb[81, 61] = 0.9  # a chain touching the person's corner, and the next, by corners only
    limb[82:86, 62:66] = 0.9  # one 8-connected region with the person: kept
    cases.append(("diagonal_limb", limb, None, "unchanged"))
    hole = _person()
    hole[50, 40] = 0.1  # 1 px against 2,400 (limit 4.8 px), with a soft ring of 0.6 above and below
    hole[49, 40] = hole[51, 40] = 0.6
    cases.append(("hole", hole, None, "filled"))
    cases.append(("hole_accurate", hole, "accurate", "unchanged"))  # forLevel('accurate'): left to the refiner
    small = _person()
    small[50:52, 30:32] = 0.0  # 4 px against 2,400: below the limit of 4.8 px
    cases.append(("hole_below_limit", small, None, "filled"))
    large = small.copy()
    large[52, 30] = 0.0  # 5 px: above it, a real gap
    cases.append(("hole_above_limit", large, None, "unchanged"))
    notch = np.zeros((60, 60), np.float32)
    notch[:, :40] = 0.9
    notch[59, 20] = 0.0  # touches the bottom side: background that leaves the frame, not a hole
    cases.append(("side_notch", notch, None, "unchanged"))
    gap = _person()
    gap[40:60, 35:45] = 0.0  # 200 px, above the limit: a real gap between arm and body
    cases.append(("gap", gap, None, "unchanged"))
    crack = _person()
    for k in range(21):  # background pixels touching by corners only: each a 4-connected hole of its own
        crack[50 - k, 40 - k] = 0.0  # (30, 20) touches the person's soft edge by a side: outside, kept
    cases.append(("crack", crack, {"minRegion": 0, "maxHole": 0.002}, "filled"))
    both = hole.copy()
    both[88:92, 80:83] = 0.7
    cases.append(("both", both, None, "both"))
    cases.append(("clean", _person(), None, "unchanged"))
    cases.append(("empty", np.zeros((30, 20), np.float32), None, "unchanged"))
    cases.append(("full", np.ones((30, 20), np.float32), None, "unchanged"))
    return cases


def _run_cleanup_js(node: str, masks: list[tuple[np.ndarray, object]]) -> list[np.ndarray]:
    """cleanup.js's cleanRegions on each (mask, cleanup): cleanup None is DEFAULT_CLEANUP, 'accurate' is
    forLevel(DEFAULT_CLEANUP, 'accurate'), else {minRegion, maxHole}."""
    cases = [{"h": m.shape[0], "w": m.shape[1], "cleanup": c} for m, c in masks]
    code = f"""
import {{ DEFAULT_CLEANUP, cleanRegions, forLevel }} from './js/cleanup.js';
const chunks = []; for await (const c of process.stdin) chunks.push(c);
const buf = Buffer.concat(chunks);
const b64 = (a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
let at = 0;
process.stdout.write(JSON.stringify({json.dumps(cases)}.map(({{ h, w, cleanup }}) => {{
  const prob = new Float32Array(buf.buffer.slice(buf.byteOffset + at, buf.byteOffset + at + 4 * w * h));
  at += 4 * w * h;
  const c = cleanup === null ? DEFAULT_CLEANUP : cleanup === 'accurate' ? forLevel(DEFAULT_CLEANUP, 'accurate') : cleanup;
  return b64(cleanRegions(prob, w, h, c));
}})));
"""
    out = run_js(node, code, b"".join(np.ascontiguousarray(m, np.float32).tobytes() for m, _ in masks))
    return [_b64_floats(s).reshape(m.shape) for s, (m, _) in zip(out, masks)]


def _py_cleanup(spec: object):
    from portrait_mobile.runtime.postprocess import DEFAULT_CLEANUP, RegionCleanup

    if spec is None:
        return DEFAULT_CLEANUP
    if spec == "accurate":
        return DEFAULT_CLEANUP.for_level("accurate")
    return RegionCleanup(min_region=spec["minRegion"], max_hole=spec["maxHole"])


def test_js_cleanup_constants_match_python(node: str) -> None:
    """cleanup.js's defaults, its accurate level's cleanup, threshold and default halo are the runtime's
    (DEFAULT_CLEANUP, NO_CLEANUP, RegionCleanup.for_level, clean_regions' threshold, _default_halo: 75 x 100
    has hypot 125, a halo of 2.5 rounded half to even as Python's round does)."""
    from portrait_mobile.runtime.postprocess import DEFAULT_CLEANUP, NO_CLEANUP, _default_halo, clean_regions

    sizes = [(100, 100), (256, 256), (144, 256), (75, 100), (48, 64), (1, 1), (3, 700)]
    js = run_js(node, f"""
import {{ DEFAULT_CLEANUP, NO_CLEANUP, THRESHOLD, defaultHalo, forLevel }} from './js/cleanup.js';
process.stdout.write(JSON.stringify({{ DEFAULT_CLEANUP, NO_CLEANUP, THRESHOLD,
  accurate: forLevel(DEFAULT_CLEANUP, 'accurate'), fast: forLevel(DEFAULT_CLEANUP, 'fast'),
  halos: {json.dumps(sizes)}.map(([h, w]) => defaultHalo(w, h)) }}));
""")
    as_js = lambda c: {"minRegion": c.min_region, "maxHole": c.max_hole}  # noqa: E731
    assert js["DEFAULT_CLEANUP"] == as_js(DEFAULT_CLEANUP) == {"minRegion": 0.1, "maxHole": 0.002}
    assert js["NO_CLEANUP"] == as_js(NO_CLEANUP)
    assert js["accurate"] == as_js(DEFAULT_CLEANUP.for_level("accurate"))
    assert js["fast"] == as_js(DEFAULT_CLEANUP.for_level("fast"))
    assert js["THRESHOLD"] == inspect.signature(clean_regions).parameters["threshold"].default
    assert js["halos"] == [_default_halo(s) for s in sizes]
    assert _default_halo((75, 100)) == 2  # the tie is in the list


def test_js_chamfer_distance_is_opencvs(node: str) -> None:
    """cleanup.js's chamferDistance is cv2.distanceTransform(DIST_L2, 3) value for value (OpenCV's portable
    transform), on random masks, a lone pixel in a wide frame and a frame with no zero pixel."""
    rng = np.random.default_rng(11)
    fgs = [rng.random((h, w)) < p for (h, w), p in [((37, 53), 0.02), ((64, 48), 0.3), ((1, 40), 0.1), ((40, 1), 0.1),
                                                      ((90, 70), 0.002)]]
    lone = np.zeros((5, 400), bool)
    lone[2, 1] = True  # distances up to ~380: the fixed point's float conversion rounds past 2^24
    fgs += [lone, np.zeros((3, 4), bool)]
    code = f"""
import {{ chamferDistance }} from './js/cleanup.js';
const chunks = []; for await (const c of process.stdin) chunks.push(c);
const buf = Buffer.concat(chunks);
const b64 = (a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
let at = 0;
process.stdout.write(JSON.stringify({json.dumps([f.shape for f in fgs])}.map(([h, w]) => {{
  const to = new Uint8Array(buf.subarray(at, at + w * h)); at += w * h;
  return b64(chamferDistance(to, w, h));
}})));
"""
    out = run_js(node, code, b"".join(f.astype(np.uint8).tobytes() for f in fgs))
    for fg, got in zip(fgs, out):
        portable, ipp = _portable_and_ipp(cv2.distanceTransform, (~fg).view(np.uint8), cv2.DIST_L2, 3)
        js = _b64_floats(got).reshape(fg.shape)
        assert np.array_equal(js.view(np.uint32), portable.view(np.uint32)), (fg.shape, np.abs(js - portable).max())
        if fg.any():  # IPP's float chamfer: the same to float rounding
            assert np.abs(js - ipp).max() <= 1e-4 * max(1.0, float(portable.max()))


def test_js_cleanup_matches_the_runtime_on_hand_made_masks(node: str) -> None:
    """cleanup.js's cleanRegions is postprocess.clean_regions bit for bit on hand-made masks: a small detached blob
    removed with its soft edge (and kept with min_region 0), a blob whose soft edge meets the person's (only the
    pixels nearer the blob go), a second region above the fraction kept, a one-pixel hole filled with its soft
    ring (and left alone at quality accurate), a gap on the frame's side and a gap above the limit kept, a
    diagonal crack's corner-touching pixels filled, blob and hole together, a clean mask, an empty and a full one
    unchanged. Each case is checked to do what it is about, and to come out the same with OpenCV's portable and
    IPP distance transforms, so the expected values hold on any OpenCV build."""
    from portrait_mobile.runtime.postprocess import clean_regions

    cases = _cleanup_cases()
    got = _run_cleanup_js(node, [(m, c) for _, m, c, _ in cases])
    failures = []
    for (name, prob, spec, expect), js in zip(cases, got):
        want, ipp = _portable_and_ipp(clean_regions, prob, _py_cleanup(spec))
        assert np.array_equal(want, ipp), f"{name}: IPP's and the portable distance transform disagree: change the mask"
        changed = want != prob
        shows = {(False, False): "unchanged", (True, False): "zeroed", (False, True): "filled",
                 (True, True): "both"}[(bool((changed & (want == 0)).any()), bool((changed & (want == 1)).any()))]
        assert shows == expect, f"{name}: expected {expect}, clean_regions gives {shows}"
        if not np.array_equal(js.view(np.uint32), want.view(np.uint32)):
            failures.append(f"{name}: {int((js != want).sum())} pixels differ, at {np.argwhere(js != want)[:5].tolist()}")
    assert not failures, "\n".join(failures)
    # What the cases are about, on the runtime's side: the soft edges go with what they belong to.
    by_name = {name: (prob, _py_cleanup(spec)) for name, prob, spec, _ in cases}
    blob = clean_regions(*by_name["blob"])
    assert blob[4:10, 84:90].max() == 0 and np.array_equal(blob[:, :70], by_name["blob"][0][:, :70])
    near_prob = by_name["near_blob"][0]
    near = clean_regions(*by_name["near_blob"])
    assert near[45:52, 63:68].max() == 0  # the blob
    assert near[48, 61] == near_prob[48, 61] == np.float32(0.4)  # its edge pixel beside the person's edge stays
    assert near[44, 66] == 0 < near_prob[44, 66]  # its edge away from the person goes
    hole = clean_regions(*by_name["hole"])
    assert hole[49:52, 40].tolist() == [1, 1, 1] and hole[20, 40] == np.float32(0.9)
    crack = clean_regions(*by_name["crack"])
    assert crack[50, 40] == crack[31, 21] == 1 and crack[30, 20] == 0


def test_js_cleanup_matches_the_runtime_on_model_masks(node: str, segmenter: Segmenter) -> None:
    """On the shipped model's own masks of 8 PFCN test photos and the README's photo (specks and holes as the
    model makes them), cleanRegions is clean_regions bit for bit, at the fast and the accurate level (no holes
    filled). Measured: specks dropped on 5 of the 9, holes filled on 8."""
    images = [PHOTO, *pfcn.image_paths(8)]
    probs = [segmenter.predict_lowres(read_image(p, exif=False)) for p in images]
    specs = [None, "accurate"]
    got = _run_cleanup_js(node, [(p, s) for p in probs for s in specs])
    from portrait_mobile.runtime.postprocess import clean_regions

    shows = {"zeroed": 0, "filled": 0}
    for k, (prob, spec) in enumerate((p, s) for p in probs for s in specs):
        want, ipp = _portable_and_ipp(clean_regions, prob, _py_cleanup(spec))
        js = got[k]
        assert np.array_equal(js.view(np.uint32), want.view(np.uint32)), (images[k // 2].name, spec, int((js != want).sum()))
        # IPP's float chamfer may break an exact tie the other way: measured 0 pixels on these masks.
        assert int((ipp != want).sum()) <= 4
        changed = want != prob
        shows["zeroed"] += bool((changed & (want == 0)).any())
        shows["filled"] += bool((changed & (want == 1)).any())
        if spec == "accurate":
            assert not (changed & (want == 1)).any()
    assert shows["zeroed"] >= 6 and shows["filled"] >= 4, shows  # both parts exercised, at both levels


def test_page_cleans_the_coarse_mask_as_the_runtime(browser: str, segmenter: Segmenter) -> None:
    """The page cleans the model's mask before drawing it, as the runtime's Segmenter.finish does: on the README's
    photo (where the cleanup drops a speck and fills holes), the mask it draws is the runtime's cleaned mask, and
    with ?cleanup=0 (the checkbox off) the runtime's mask without the cleanup (SegmenterOptions(cleanup=NO_CLEANUP))."""
    from portrait_mobile.runtime.effects import mask_image
    from portrait_mobile.runtime.options import SegmenterOptions
    from portrait_mobile.runtime.postprocess import DEFAULT_CLEANUP, NO_CLEANUP, clean_regions

    image = read_image(PHOTO)
    low = segmenter.predict_lowres(image)
    changed = int((clean_regions(low) != low).sum())
    cleaned = mask_image(segmenter.segment(image)).astype(int)
    raw = mask_image(Segmenter.from_file(MODEL, SegmenterOptions(cleanup=NO_CLEANUP)).segment(image)).astype(int)
    apart = np.abs(cleaned - raw).mean()
    assert changed > 0 and apart > 1.0, (changed, apart)  # the cleanup shows on this photo
    for query, want, other, cleanup in (("effect=none", cleaned, raw, DEFAULT_CLEANUP),
                                        ("effect=none&cleanup=0", raw, cleaned, NO_CLEANUP)):
        out = drive(browser, "photo", "--photo", PHOTO, "--effects", "mask", "--query", query)
        state = out["state"]
        assert state["error"] is None, out
        d = out["drawn"]["mask"]
        got = np.frombuffer(base64.b64decode(d["rgbaB64"]), np.uint8).reshape(d["height"], d["width"], 4)[..., 0]
        near, far = np.abs(got - want).mean(), np.abs(got - other).mean()
        print(f"\npage ?{query}: mean |page - runtime| {near:.2f} levels (the other setting's {far:.2f}); "
              f"{state['cleanup']['changed']} coarse pixels changed (runtime {changed if cleanup.active else 0})")
        assert near < 1.0 and near < far / 4, (query, near, far)
        assert {k: state["cleanup"][k] for k in ("minRegion", "maxHole")} == {
            "minRegion": cleanup.min_region, "maxHole": cleanup.max_hole}
        if cleanup.active:  # the page decodes and resizes the photo itself: its mask may differ at a tie
            assert abs(state["cleanup"]["changed"] - changed) <= 0.02 * changed
        else:
            assert state["cleanup"]["changed"] == 0
