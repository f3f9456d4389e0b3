"""portrait_bench.profiles: the shipped device profiles (one registry: host, ARM and web rows) and the
validation of a profiles file."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from portrait_bench.profiles import (DEFAULT_PROFILES_FILE, ProfileError, arm_cores, load_profiles, of_runner,
                                     select_profiles)

HOST = ["flagship-1big", "midrange-2t", "android-nnapi", "android-gpu", "ios-coreml-ane"]


def test_shipped_profiles() -> None:
    profs = load_profiles()
    assert [p.name for p in of_runner(profs, "host")] == HOST
    assert [p.name for p in of_runner(profs, "arm")] == ["arm-a53", "arm-a55", "arm-a76"] == list(arm_cores())
    assert [p.name for p in of_runner(profs, "web")] == ["web-wasm"]
    for p in profs.values():
        assert p.emulates and p.title and p.how()
        if p.target != "cpu":
            assert p.delegate_check is not None and p.proxy_note, p.name
        if p.reference_on_device is not None:
            assert p.reference_on_device.source.startswith("https://")
        if p.slowdown is not None:
            assert p.slowdown.source
    assert profs["android-nnapi"].delegate_check.android_api_level == 30
    assert [p.name for p in select_profiles(["all"], profs)] == HOST == [p.name for p in select_profiles(None, profs)]
    assert [p.name for p in select_profiles(["midrange-2t,flagship-1big"], profs)] == ["midrange-2t", "flagship-1big"]
    assert [p.name for p in select_profiles(["arm", "arm-a76", "web-wasm"], profs)] == [
        "arm-a53", "arm-a55", "arm-a76", "web-wasm"]
    with pytest.raises(ProfileError, match="known: host: flagship-1big.*arm: arm-a53.*web: web-wasm"):
        select_profiles(["pixel-99"], profs)
    assert profs["arm-a55"].arm.midr_part == 0xD05 and profs["arm-a55"].arm.qemu_cpu == "cortex-a76"


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


@pytest.mark.parametrize("edit, needle", [
    (lambda rows: rows[0].update(thread=2), "unknown keys ['thread']"),  # a typo is refused, as in budgets
    (lambda rows: rows[0].update(runner="phone"), "runner must be one of"),
    (lambda rows: rows[0].update(arm={"qemu_cpu": "cortex-a76"}), "'arm' table goes with runner 'arm'"),
    (lambda rows: next(r for r in rows if r["name"] == "arm-a53")["arm"].update(qemu_cpu="max"), "SVE/SME"),
    (lambda rows: next(r for r in rows if r["name"] == "arm-a53")["arm"].update(cache_kb=32), "cache_kb"),
])
def test_profile_rows_are_checked(tmp_path: Path, edit, needle: str) -> None:
    data = json.loads(DEFAULT_PROFILES_FILE.read_text())
    edit(data["profiles"])
    f = tmp_path / "p.json"
    f.write_text(json.dumps(data))
    with pytest.raises(ProfileError, match=re.escape(needle)):
        load_profiles(f)


@pytest.mark.parametrize("threads", [0, 100_000])
def test_profile_threads_are_capped(tmp_path: Path, threads: int) -> None:
    """100000 threads segfaulted LiteRT instead of failing with a message."""
    from portrait_mobile.cli_support import MAX_THREADS

    data = json.loads(DEFAULT_PROFILES_FILE.read_text())
    data["profiles"][0]["threads"] = threads
    f = tmp_path / "p.json"
    f.write_text(json.dumps(data))
    with pytest.raises(ProfileError, match=re.escape(f"profile {data['profiles'][0]['name']!r}: threads must be in "
                                                     f"1..{MAX_THREADS}")):
        load_profiles(f)
