"""Model load progress: a bar on a terminal, a few plain log lines otherwise (a file, a
pipe, or JSON logs), so logs never fill with carriage returns."""
from __future__ import annotations

import logging
import sys
from typing import TextIO

log = logging.getLogger("pyllm.server")

_BAR_WIDTH = 30


class LoadProgress:
    """``progress`` callback for :class:`pyllm.Model`: call with the loaded fraction (0..1)."""

    def __init__(self, name: str, *, bar: bool | None = None, stream: TextIO | None = None) -> None:
        self.name = name
        self.stream = stream or sys.stderr
        self.bar = self.stream.isatty() if bar is None else bar
        self._shown = -1  # last percentage drawn (bar) or logged (lines)

    def __call__(self, fraction: float) -> None:
        percent = max(0, min(100, int(fraction * 100)))
        if self.bar:
            if percent == self._shown:
                return
            filled = _BAR_WIDTH * percent // 100
            self.stream.write(f"\rloading {self.name} [{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] {percent:3d}%")
            if percent == 100:
                self.stream.write("\n")
            self.stream.flush()
        elif percent // 25 > self._shown // 25 or self._shown < 0:
            log.info("loading %s: %d%%", self.name, percent)
        self._shown = percent
