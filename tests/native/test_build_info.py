import re

import pyllm


def test_build_info_lists_cpu_backend_and_device():
    info = pyllm.build_info()
    assert "CPU" in info["backends"]
    assert any(d.startswith("CPU") for d in info["devices"])


def test_build_info_names_pinned_llama_cpp_source():
    info = pyllm.build_info()
    # The pinned sdist, with the RPC patch cmake/patch_llama_cpp.py applies (and says so).
    assert info["llama_cpp_source"] == "llama-cpp-python==0.3.36 sdist + pyllm changes"
    assert re.fullmatch(r"[0-9a-f]{7,40}", info["llama_cpp_commit"])
    assert info["build_type"] in {"Release", "RelWithDebInfo", "Debug", "MinSizeRel"}
    assert info["compiler"]


def test_build_info_reports_cpu_features_in_use():
    info = pyllm.build_info()
    features = info["cpu_features"]
    assert isinstance(features, dict) and features
    # The system info line llama.cpp prints agrees with the feature list.
    for name, value in features.items():
        if value == "1" and name in {"AVX", "AVX2", "FMA", "F16C", "NEON"}:
            assert f"{name} = 1" in info["system_info"]
