"""portrait_bench.profiles: the shipped device profiles and the validation of a profiles file."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from portrait_bench.profiles import DEFAULT_PROFILES_FILE, ProfileError, load_profiles, select_profiles


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
