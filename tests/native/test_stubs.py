"""src/pyllm/_core.pyi is generated from the built module (pybind11-stubgen), not kept by hand;
this fails when a binding changed and the stubs were not regenerated."""
import subprocess
import sys
from pathlib import Path

STUBS = Path(__file__).resolve().parents[2] / "src" / "pyllm" / "_core.pyi"
REGENERATE = "python -m pybind11_stubgen pyllm._core -o src --enum-class-locations Protocol:pyllm._core"


def test_checked_in_stubs_are_what_the_module_generates(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pybind11_stubgen", "pyllm._core", "-o", str(tmp_path),
                        "--enum-class-locations", "Protocol:pyllm._core"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    generated = (tmp_path / "pyllm" / "_core.pyi").read_text()
    assert generated == STUBS.read_text(), f"the bindings changed: regenerate the stubs with `{REGENERATE}`"
