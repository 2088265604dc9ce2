"""Process-wide facts and settings of the native runtime."""
from __future__ import annotations

from typing import Any

from pyllm import _core

_LOG_LEVELS = {"debug": 1, "info": 2, "warn": 3, "warning": 3, "error": 4, "none": 5}


def build_info() -> dict[str, Any]:
    """How this pyllm was built: llama.cpp commit and source, backends, CPU features, build type.

    ``backends`` lists the ggml backends compiled in and registered (``["CPU", "RPC"]`` for
    the default build; ``["CUDA", "CPU", "RPC"]`` for a CUDA build), ``devices`` the devices
    they found, ``gpu_backends`` the GPU backends compiled in (whether or not they found a
    device), ``gpu_archs`` the GPU architectures compiled (CUDA's ``CMAKE_CUDA_ARCHITECTURES``,
    e.g. ``"90"``; ``""`` without one), ``cpu_native`` whether the CPU code was built for the
    build machine's CPU (``GGML_NATIVE``: it may not run on another CPU), ``cpu_features`` the
    instruction-set features the CPU backend was built with.
    """
    return _core.build_info()


def devices() -> list[dict[str, Any]]:
    """The devices the backends found: name (``CUDA0``, ``Vulkan0``, ``RPC0[host:port]``,
    ``CPU``), description, type (cpu, gpu, igpu, accel), backend, memory_total and
    memory_free in bytes."""
    return _core.devices()


def backend_failure() -> str | None:
    """Why a device stopped working (an RPC server whose connection broke), or None.

    Once set it stays: that device's weights and KV cache are gone, so requests fail until
    the process is restarted."""
    return _core.backend_failure() or None


def set_log_level(level: str) -> None:
    """Least severe llama.cpp log level printed to stderr: debug, info, warn (default), error, none.

    The environment variable ``PYLLM_LOG_LEVEL`` sets the initial level.
    """
    try:
        _core.set_log_level(_LOG_LEVELS[level])
    except KeyError:
        raise ValueError(f"unknown log level {level!r}; choose from {sorted(_LOG_LEVELS)}") from None


def add_rpc_servers(endpoints: list[str]) -> None:
    """Register llama.cpp rpc-servers ("host:port") as devices for models loaded afterwards
    (llama-server's ``--rpc``). ValueError when this build has no RPC backend, or an address
    is malformed or refuses the connection."""
    _core.add_rpc_servers(list(endpoints))
