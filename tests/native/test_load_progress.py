"""Model load progress: the native loader reports fractions up to 1; the server draws a bar
on a terminal and writes a few plain lines otherwise."""
import io
import logging

import pytest

import pyllm
from pyllm.server.load_progress import LoadProgress


def test_loading_reports_increasing_fractions_up_to_one(default_model_path):
    seen: list[float] = []
    pyllm.Model(default_model_path, progress=seen.append)
    assert len(seen) > 2
    assert seen == sorted(seen) and seen[-1] == 1.0


def test_an_exception_in_the_progress_callback_aborts_the_load_and_is_raised(default_model_path):
    def interrupt(fraction: float) -> None:
        if fraction > 0.5:
            raise KeyboardInterrupt  # what Ctrl-C during a long load raises here

    with pytest.raises(KeyboardInterrupt):
        pyllm.Model(default_model_path, progress=interrupt)
    assert pyllm.Model(default_model_path).n_vocab > 0  # nothing left half-loaded


def test_bar_on_a_terminal_ends_with_a_newline():
    out = io.StringIO()
    progress = LoadProgress("m.gguf", bar=True, stream=out)
    for f in (0.0, 0.5, 0.5, 1.0):
        progress(f)
    frames = out.getvalue().split("\r")[1:]
    assert len(frames) == 3  # a repeated percentage is not redrawn
    assert frames[1] == "loading m.gguf [" + "#" * 15 + "." * 15 + "]  50%"
    assert frames[2].endswith("] 100%\n")


def test_plain_lines_otherwise(caplog):
    with caplog.at_level(logging.INFO, logger="pyllm.server"):
        progress = LoadProgress("m.gguf", bar=False, stream=io.StringIO())
        for i in range(101):
            progress(i / 100)
    assert [r.getMessage() for r in caplog.records] == [f"loading m.gguf: {p}%" for p in (0, 25, 50, 75, 100)]
