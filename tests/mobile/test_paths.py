"""portrait_mobile.paths.source_checkout: what needs the repository says so when run from an install."""
from __future__ import annotations

from pathlib import Path

import pytest

from portrait_mobile import paths
from portrait_mobile.errors import PortraitError


def test_source_checkout_prefers_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "web_demo").mkdir()
    monkeypatch.chdir(tmp_path)
    assert paths.source_checkout("web_demo", what="x") == tmp_path
    monkeypatch.chdir(tmp_path / "web_demo")
    assert paths.source_checkout("web_demo", what="x") == paths.REPO_ROOT  # this checkout has it


def test_an_install_without_the_checkout_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site-packages"  # what REPO_ROOT is in an installed wheel
    site.mkdir()
    monkeypatch.setattr(paths, "REPO_ROOT", site)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PortraitError, match=r"the demo copy needs a source checkout of portrait-mobile "
                                            r"\(the repository, with android_demo/, ios_demo/\)"):
        paths.source_checkout("android_demo", "ios_demo", what="the demo copy")
