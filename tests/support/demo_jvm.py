"""Compiles the Android demo's pure-Kotlin sources on a plain JVM and runs their unit tests.

No Android SDK or Google Maven is reachable here, but the JVM Kotlin compiler is (npm
`kotlin-compiler`, the app's Kotlin version), and so are JUnit 4 and Android's own `org.json`
(Debian `junit4`, `libandroid-json-java`). The app sources that touch only a few Android classes
compile against stand-ins of those classes and of LiteRT's Kotlin and TFLite's Java APIs
(`android_demo/jvm-check/stubs/`, same packages and signatures); the rest (activity, view model,
CameraX, Compose UI) needs Android Studio.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import REPO

ROOT = REPO
ANDROID = ROOT / "android_demo"
APP_SRC = ANDROID / "app/src"
MAIN = APP_SRC / "main/java/com/portraitmobile/demo"
JVM_CHECK = ANDROID / "jvm-check"

# The app sources compiled here, against the stand-ins (the interpreter flavor's Engines.kt separately:
# both flavors declare the same `Engines`).
JVM_SOURCES = sorted([
    *(MAIN / "contract").glob("*.kt"), *(MAIN / "engine").glob("*.kt"), *(MAIN / "segmentation").glob("*.kt"),
    MAIN / "effects/EffectRenderer.kt", MAIN / "PortraitPipeline.kt",
    APP_SRC / "compiled/java/com/portraitmobile/demo/engine/Engines.kt",
])
INTERPRETER_FLAVOR = APP_SRC / "interpreter/java/com/portraitmobile/demo/engine/Engines.kt"
# Those that need AndroidX, CameraX or Compose, which only Android Studio builds.
ANDROID_ONLY = {
    "MainActivity.kt", "PortraitViewModel.kt", "FrameAnalyzer.kt", "ui/PortraitScreen.kt", "ui/CameraPreview.kt",
}
JAVA_LIBS = ["junit4.jar", "hamcrest-core.jar", "com.android.json.jar"]  # Debian: junit4, libandroid-json-java
JAVA_LIB_DIR = Path(os.environ.get("DEMO_JAVA_LIBS", "/usr/share/java"))


def kotlinc() -> Path | None:
    """$KOTLINC, the copy .ci/run installs, or one on the PATH."""
    for candidate in [os.environ.get("KOTLINC"), ROOT / ".ci-tools/node_modules/kotlin-compiler/bin/kotlinc",
                      shutil.which("kotlinc")]:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def missing_tools() -> str | None:
    """Why the JVM build cannot run here, or None."""
    if kotlinc() is None:
        return "no Kotlin compiler (npm install kotlin-compiler@2.2.21, or set KOTLINC)"
    if shutil.which("java") is None:
        return "no Java runtime"
    absent = [j for j in JAVA_LIBS if not (JAVA_LIB_DIR / j).is_file()]
    if absent:
        return f"missing {', '.join(absent)} in {JAVA_LIB_DIR} (apt-get install junit4 libandroid-json-java)"
    return None


@dataclass
class JvmBuild:
    stubs_and_main: Path
    interpreter_flavor: Path
    tests: Path

    @property
    def classpath(self) -> list[Path]:
        stdlib = kotlinc().resolve().parents[1] / "lib/kotlin-stdlib.jar"
        return [self.tests, self.stubs_and_main, stdlib, *(JAVA_LIB_DIR / j for j in JAVA_LIBS)]

    def java(self, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
        cp = os.pathsep.join(map(str, self.classpath))
        return subprocess.run(["java", "-cp", cp, *args], capture_output=True, text=True, timeout=timeout)


def _kotlinc(out: Path, sources: list[Path], classpath: list[Path], *flags: str) -> None:
    cmd = [str(kotlinc()), *flags, "-jvm-target", "17", "-d", str(out)]
    if classpath:
        cmd += ["-cp", os.pathsep.join(map(str, classpath))]
    proc = subprocess.run([*cmd, *map(str, sources)], capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise AssertionError(f"kotlinc failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")


def build(out: Path) -> JvmBuild:
    """Compiles the stand-ins with the app sources, then the interpreter flavor (warnings are errors in
    both), then all JVM tests."""
    libs = [JAVA_LIB_DIR / j for j in JAVA_LIBS]
    main = out / "main"
    stubs = sorted([*(JVM_CHECK / "stubs/android").glob("*.kt"), *(JVM_CHECK / "stubs/litert").glob("*.kt")])
    _kotlinc(main, stubs + JVM_SOURCES, [JAVA_LIB_DIR / "com.android.json.jar"], "-Werror")
    interpreter = out / "interpreter"
    tflite_stubs = sorted((JVM_CHECK / "stubs/tflite").glob("*.kt"))
    _kotlinc(interpreter, [*tflite_stubs, INTERPRETER_FLAVOR], [main], "-Werror")
    tests = out / "tests"
    test_sources = sorted([*(APP_SRC / "test").rglob("*.kt"), *(JVM_CHECK / "src").rglob("*.kt")])
    _kotlinc(tests, test_sources, [main, *libs])
    return JvmBuild(main, interpreter, tests)


def junit_classes(build_: JvmBuild) -> list[str]:
    return sorted(str(p.relative_to(build_.tests).with_suffix("")).replace(os.sep, ".")
                  for p in build_.tests.rglob("*Test.class"))
