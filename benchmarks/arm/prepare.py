"""Set up the ARM64 emulation once (``portrait-bench --setup-arm``) and find it again later.

Everything comes from the registries: Debian's dynamic ``qemu-user`` (plugins need it; the static build
cannot load them) and gcc on the host, arm64 Debian packages (Python 3.11, libstdc++) unpacked with
``dpkg-deb -x`` into a private root, and the aarch64 wheels of ai-edge-litert and NumPy from PyPI
installed into that root. A private apt configuration (its own state and cache folders, arm64 only)
leaves the host's apt and dpkg untouched, so no root rights are needed once qemu-user and gcc are
installed. One folder per emulated core overlays the shared root with its own fake
``/proc/cpuinfo`` and ``/sys/devices/system/cpu/{possible,present,online}`` (LiteRT's
``allocate_tensors`` segfaults without them; QEMU's ``-L`` prefix redirects those reads).

The set-up lives in ``$PORTRAIT_BENCH_CACHE`` (default ``~/.cache/portrait-bench``)/arm, keyed by
what it contains: a changed package list, wheel version or plugin source rebuilds only what changed.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable

from portrait_bench.arm.cores import ArmCore
from portrait_bench.profiles import arm_cores
from portrait_bench.commands import run_command

CACHE_ENV = "PORTRAIT_BENCH_CACHE"
HERE = Path(__file__).resolve().parent
PLUGIN_SOURCE = HERE / "insn_count.c"
GUEST_SCRIPT = HERE / "guest.py"

LITERT_VERSION = "2.3.0"
# arm64 packages asked for by name; apt resolves their dependencies (from an empty status file).
DEBIAN_PACKAGES = ("python3.11-minimal", "libpython3.11-stdlib", "libstdc++6")
# The aarch64 ai-edge-litert 2.3.0 wheel is tagged manylinux_2_27 only: without that platform pip
# silently falls back to an old release.
WHEEL_PLATFORMS = ("manylinux_2_27_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64")
GUEST_PYTHON = "/usr/bin/python3.11"
GUEST_SITE = "/opt/site"
CPU_FILES = ("possible", "present", "online")
SETUP_HINT = "run: portrait-bench --setup-arm"

Progress = Callable[[str], None]


class ArmSetupError(RuntimeError):
    """The ARM emulation is not set up, or cannot be: the message names the missing piece."""


def cache_root() -> Path:
    base = os.environ.get(CACHE_ENV)
    return (Path(base) if base else Path.home() / ".cache" / "portrait-bench") / "arm"


def _numpy_version() -> str:
    # the guest's NumPy matches the host's, so both sides of the parity check read tensors alike
    return metadata.version("numpy")


def _root_key() -> str:
    recipe = {"debian": DEBIAN_PACKAGES, "litert": LITERT_VERSION, "numpy": _numpy_version(),
              "platforms": WHEEL_PLATFORMS, "layout": 1}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def _plugin_key() -> str:
    return hashlib.sha256(PLUGIN_SOURCE.read_bytes()).hexdigest()[:12]


@dataclass(frozen=True)
class ArmEnv:
    """A ready emulation: run ``qemu -cpu C -L core_root(C) -plugin plugin python guest.py ...``."""

    qemu: Path
    root: Path
    plugin: Path

    def core_root(self, core: ArmCore) -> Path:
        return self.root.parent / f"cores-{self.root.name}" / core.profile

    @property
    def python(self) -> Path:
        return self.root / GUEST_PYTHON.lstrip("/")

    def describe(self) -> str:
        return f"{self.qemu} ({qemu_version(self.qemu)}), root {self.root}, plugin {self.plugin.name}"


def qemu_version(qemu: Path) -> str:
    try:
        out = subprocess.run([str(qemu), "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown version"
    return out.splitlines()[0].strip() if out else "unknown version"


def _find_qemu() -> Path:
    q = shutil.which("qemu-aarch64")
    if q is None:
        static = shutil.which("qemu-aarch64-static")
        extra = f" ({static} is the static build, which cannot load plugins)" if static else ""
        raise ArmSetupError(f"qemu-aarch64 not found{extra}: install Debian's dynamic qemu-user "
                            "(apt-get install qemu-user)")
    try:
        help_text = subprocess.run([q, "-h"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise ArmSetupError(f"{q} does not run: {e}") from None
    if "-plugin" not in help_text:
        raise ArmSetupError(f"{q} cannot load TCG plugins (a static or plugin-less build): install Debian's "
                            "dynamic qemu-user (apt-get install qemu-user)")
    return Path(q)


def _need_tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ArmSetupError(f"{name} not found: install it (apt-get install {package})")
    return path


def _run(cmd: list[str], what: str, env: dict[str, str] | None = None, timeout: float = 900) -> str:
    return run_command(cmd, what, ArmSetupError, env=env, timeout_s=timeout)


def _apt_config(work: Path) -> Path:
    """An apt configuration of our own: arm64 only, its own lists/cache/status, the host's sources."""
    etc = work / "etc"
    (etc / "sources.list.d").mkdir(parents=True, exist_ok=True)
    (etc / "preferences.d").mkdir(exist_ok=True)
    (etc / "apt.conf.d").mkdir(exist_ok=True)
    srcs = [p for pattern in ("*.sources", "*.list") for p in Path("/etc/apt/sources.list.d").glob(pattern)
            if p.is_file()]
    if Path("/etc/apt/sources.list").is_file():
        shutil.copy(Path("/etc/apt/sources.list"), etc / "sources.list")
    else:
        (etc / "sources.list").write_text("")
    for s in srcs:
        shutil.copy(s, etc / "sources.list.d" / s.name)
    if not srcs and not (etc / "sources.list").read_text().strip():
        raise ArmSetupError("no Debian apt sources in /etc/apt: cannot download the arm64 packages")
    (work / "state" / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (work / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    (work / "state" / "status").write_text("")
    conf = work / "apt.conf"
    conf.write_text("\n".join([
        'APT::Architecture "arm64";', 'APT::Architectures "arm64";',
        f'Dir::Etc "{etc}";', f'Dir::State "{work / "state"}";', f'Dir::State::status "{work / "state" / "status"}";',
        f'Dir::Cache "{work / "cache"}";', 'Debug::NoLocking "true";', 'APT::Sandbox::User "root";', ""]))
    return conf


def _build_root(root: Path, say: Progress) -> None:
    apt_get = _need_tool("apt-get", "apt")
    dpkg_deb = _need_tool("dpkg-deb", "dpkg")
    with tempfile.TemporaryDirectory(prefix=".arm-build-", dir=root.parent) as tmp:
        work = Path(tmp)
        env = dict(os.environ, APT_CONFIG=str(_apt_config(work / "apt")), DEBIAN_FRONTEND="noninteractive")
        say("arm: apt-get update (arm64 package lists, private apt state)")
        _run([apt_get, "-q", "update"], "apt-get update for arm64", env)
        say(f"arm: downloading arm64 {', '.join(DEBIAN_PACKAGES)} and their dependencies")
        _run([apt_get, "-q", "-y", "--download-only", "--no-install-recommends", "install", *DEBIAN_PACKAGES],
             "apt-get download of the arm64 packages", env)
        debs = sorted((work / "apt" / "cache" / "archives").glob("*.deb"))
        if not debs:
            raise ArmSetupError("apt-get downloaded no arm64 packages")
        staged = work / "root"
        for deb in debs:
            _run([dpkg_deb, "-x", str(deb), str(staged)], f"dpkg-deb -x {deb.name}")
        if not (staged / GUEST_PYTHON.lstrip("/")).is_file():
            raise ArmSetupError(f"the arm64 packages did not provide {GUEST_PYTHON}")
        say(f"arm: aarch64 wheels ai-edge-litert=={LITERT_VERSION}, numpy=={_numpy_version()} from PyPI")
        plat = [a for p in WHEEL_PLATFORMS for a in ("--platform", p)]
        _run([sys.executable, "-m", "pip",
              "install", "-q", "--disable-pip-version-check", "--no-compile", "--target",
              str(staged / GUEST_SITE.lstrip("/")), *plat, "--only-binary=:all:", "--python-version", "3.11",
              "--implementation", "cp", f"ai-edge-litert=={LITERT_VERSION}", f"numpy=={_numpy_version()}"],
             "pip install of the aarch64 wheels")
        got = list((staged / GUEST_SITE.lstrip("/")).glob(f"ai_edge_litert-{LITERT_VERSION}.dist-info"))
        if not got:
            raise ArmSetupError(f"pip did not install the aarch64 ai-edge-litert {LITERT_VERSION} wheel")
        (staged / "manifest.json").write_text(json.dumps({
            "debian_packages": [d.name for d in debs], "litert": LITERT_VERSION, "numpy": _numpy_version()},
            indent=1))
        if root.exists():
            shutil.rmtree(root)
        os.replace(staged, root)


def _build_plugin(dest: Path, say: Progress) -> None:
    gcc = _need_tool("gcc", "gcc")
    say(f"arm: compiling the instruction-count plugin {PLUGIN_SOURCE.name}")
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".so", dir=dest.parent)
    os.close(fd)
    try:
        _run([gcc, "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror", "-o", tmp, str(PLUGIN_SOURCE)],
             "gcc of the QEMU plugin")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _write_core_roots(env: ArmEnv) -> None:
    """One small folder per core: symlinks to the shared root, plus that core's /proc and /sys files."""
    for core in arm_cores().values():
        d = env.core_root(core)
        (d / "proc").mkdir(parents=True, exist_ok=True)
        cpu = d / "sys" / "devices" / "system" / "cpu"
        cpu.mkdir(parents=True, exist_ok=True)
        for entry in env.root.iterdir():
            if entry.name in ("proc", "sys", "manifest.json"):
                continue
            link = d / entry.name
            if not link.is_symlink():
                link.symlink_to(entry)
        (d / "proc" / "cpuinfo").write_text(core.cpuinfo())
        for f in CPU_FILES:
            (cpu / f).write_text("0\n")


def _drop_stale(base: Path, keep: set[str]) -> None:
    """Earlier set-ups (another package list, wheel version or plugin source) are not used again."""
    for p in base.iterdir():
        if p.name in keep or not p.name.startswith(("root-", "cores-root-", "insn_count-")):
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


def locate(base: Path | None = None) -> ArmEnv:
    """The prepared emulation, or ArmSetupError naming what is missing."""
    base = base or cache_root()
    qemu = _find_qemu()
    root = base / f"root-{_root_key()}"
    if not (root / "manifest.json").is_file():
        raise ArmSetupError(f"the arm64 root is not prepared ({root} missing); {SETUP_HINT}")
    plugin = base / f"insn_count-{_plugin_key()}.so"
    if not plugin.is_file():
        raise ArmSetupError(f"the instruction-count plugin is not built ({plugin} missing); {SETUP_HINT}")
    env = ArmEnv(qemu, root, plugin)
    for core in arm_cores().values():
        if not (env.core_root(core) / "proc" / "cpuinfo").is_file():
            raise ArmSetupError(f"the {core.profile} root is missing ({env.core_root(core)}); {SETUP_HINT}")
    return env


def prepare(base: Path | None = None, progress: Progress | None = None) -> ArmEnv:
    """Build whatever of the emulation is missing (cached: a second call does nothing) and check it."""
    say = progress or (lambda _m: None)
    base = base or cache_root()
    qemu = _find_qemu()
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ArmSetupError(f"cannot create the cache folder {base}: {e}") from None
    if "," in str(base):
        raise ArmSetupError(f"the cache folder {base} contains a comma, which QEMU's -plugin option cannot take; "
                            f"set ${CACHE_ENV} elsewhere")
    root = base / f"root-{_root_key()}"
    if not (root / "manifest.json").is_file():
        _build_root(root, say)
    plugin = base / f"insn_count-{_plugin_key()}.so"
    if not plugin.is_file():
        _build_plugin(plugin, say)
    env = ArmEnv(qemu, root, plugin)
    _write_core_roots(env)
    core = next(iter(arm_cores().values()))
    _drop_stale(base, keep={root.name, env.core_root(core).parent.name, plugin.name})
    say("arm: checking that the arm64 Python imports LiteRT under QEMU")
    _run([str(qemu), "-cpu", core.qemu_cpu, "-L", str(env.core_root(core)), str(env.python),
          "-c", "import numpy, ai_edge_litert.interpreter"], "the arm64 Python under QEMU",
         env=guest_environment())
    return env


def guest_environment() -> dict[str, str]:
    """A clean environment for the guest Python (nothing of the host's venv leaks in)."""
    return {"PATH": "/usr/bin:/bin", "PYTHONPATH": GUEST_SITE, "PYTHONNOUSERSITE": "1",
            "PYTHONDONTWRITEBYTECODE": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "HOME": "/tmp", "LC_ALL": "C.UTF-8"}
