"""Fill vendor/llama.cpp from the pinned llama-cpp-python source distribution.

llama.cpp is not committed to this repository. At configure time CMake runs this
script when the directory is absent: pip downloads the sdist by package name from
the configured index, the archive is checked against a pinned sha256, and only its
vendor/llama.cpp directory is extracted. The llama.cpp commit the sdist was cut from
is recorded in vendor/llama.cpp/PYLLM_SOURCE.json for build_info().
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "llama-cpp-python"
VERSION = "0.3.36"
SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
STAMP = "PYLLM_SOURCE.json"

HELP = (
    "pyllm needs llama.cpp's source. Either make sure pip can reach the package index "
    f"(it downloads {PACKAGE}=={VERSION} and uses its vendor/llama.cpp), or point the build "
    "at an existing llama.cpp checkout with -C cmake.define.PYLLM_LLAMA_CPP_DIR=/path/to/llama.cpp"
)


class FetchError(Exception):
    pass


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_sdist(workdir: Path) -> Path:
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
        "--disable-pip-version-check", "-d", str(workdir), f"{PACKAGE}=={VERSION}",
    ]
    print("-- pyllm: downloading", f"{PACKAGE}=={VERSION}", "source distribution with pip", flush=True)
    # pip reads the sdist's metadata after downloading it. In an isolated environment that
    # means installing its build requirements from source too (":all:" covers them): CMake
    # itself, minutes of bootstrap on a machine with no pip cache. The metadata needs only
    # scikit-build-core, which the environment building pyllm has; fall back to isolation
    # where it does not.
    result = subprocess.run(cmd[:4] + ["--no-build-isolation"] + cmd[4:], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir()
        result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        raise FetchError(f"pip download failed (exit {result.returncode}):\n{result.stdout[-4000:]}")
    archives = list(workdir.glob("llama_cpp_python-*.tar.gz")) + list(workdir.glob("llama-cpp-python-*.tar.gz"))
    if len(archives) != 1:
        raise FetchError(f"pip download did not produce one sdist archive in {workdir}: {os.listdir(workdir)}")
    return archives[0]


def llama_cpp_commit(tar: tarfile.TarFile, top: str) -> str:
    """The sdist's changelog names the llama.cpp commit it vendors, newest first."""
    try:
        member = tar.extractfile(f"{top}/CHANGELOG.md")
    except KeyError:
        return "unknown"
    text = member.read().decode("utf-8", "replace") if member else ""
    match = re.search(r"llama\.cpp@([0-9a-f]{7,40})", text)
    return match.group(1) if match else "unknown"


def extract_vendor(archive: Path, dest: Path) -> None:
    with tarfile.open(archive, "r:gz") as tar:
        top = tar.getnames()[0].split("/")[0]
        prefix = f"{top}/vendor/llama.cpp/"
        members = [m for m in tar.getmembers() if m.name.startswith(prefix)]
        if not members:
            raise FetchError(f"{archive.name} has no vendor/llama.cpp directory")
        for m in members:
            m.name = m.name[len(prefix):]
        members = [m for m in members if m.name]
        staging = Path(tempfile.mkdtemp(prefix=".llama.cpp-", dir=dest.parent))
        try:
            kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(staging, members=members, **kwargs)
            (staging / STAMP).write_text(json.dumps({
                "package": PACKAGE, "version": VERSION, "sha256": SHA256,
                "llama_cpp_commit": llama_cpp_commit(tar, top),
            }, indent=2) + "\n")
            staging.rename(dest)  # atomic: a half-extracted tree never looks complete
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise


def fetch(dest: Path, archive: Path | None) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pyllm-sdist-") as tmp:
        archive = archive or download_sdist(Path(tmp))
        actual = sha256_of(archive)
        if actual != SHA256:
            raise FetchError(
                f"sha256 mismatch for {archive.name}: expected {SHA256}, got {actual}. "
                "The index served a different file than the pinned one; refusing to build from it."
            )
        extract_vendor(archive, dest)
    print(f"-- pyllm: llama.cpp source ready in {dest}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path, help="directory to create (vendor/llama.cpp)")
    parser.add_argument("--archive", type=Path, help="use this already-downloaded sdist instead of pip")
    args = parser.parse_args()
    if (args.dest / STAMP).is_file():
        return 0
    if args.dest.exists():
        print(f"pyllm: {args.dest} exists but was not filled by this script; remove it or pass "
              "PYLLM_LLAMA_CPP_DIR", file=sys.stderr)
        return 1
    try:
        fetch(args.dest, args.archive)
    except (FetchError, OSError, tarfile.TarError) as e:
        print(f"pyllm: could not prepare llama.cpp: {e}\n{HELP}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
