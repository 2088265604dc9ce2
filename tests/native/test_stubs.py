"""src/pyllm/_core.pyi and _bench.pyi are generated from the built modules (pybind11-stubgen),
not kept by hand; this fails when a binding changed and the stubs were not regenerated."""
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
# Protocol is an enum of _core that _bench's signatures do not use.
ARGS = {"_core": ["--enum-class-locations", "Protocol:pyllm._core"], "_bench": []}


@pytest.mark.parametrize("module", sorted(ARGS))
def test_checked_in_stubs_are_what_the_module_generates(tmp_path, module):
    command = ["-m", "pybind11_stubgen", f"pyllm.{module}", "-o", str(tmp_path), *ARGS[module]]
    r = subprocess.run([sys.executable, *command], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    generated = (tmp_path / "pyllm" / f"{module}.pyi").read_text()
    regenerate = " ".join(["python -m pybind11_stubgen", f"pyllm.{module}", "-o src", *ARGS[module]])
    assert generated == (SRC / "pyllm" / f"{module}.pyi").read_text(), (
        f"the bindings changed: regenerate the stubs with `{regenerate}`")
