"""
pyllm benchmark helpers (synthetic producer, parser timings); not used by the server
"""
from __future__ import annotations
import collections.abc
import pyllm._core
import typing
__all__: list[str] = ['SyntheticProducer', 'time_server_reparse', 'time_stream_parser']
class SyntheticProducer:
    def __init__(self, n_tasks: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def drain(self) -> list:
        ...
    def join(self) -> None:
        ...
    def start(self, n_items: typing.SupportsInt | typing.SupportsIndex, payload_bytes: typing.SupportsInt | typing.SupportsIndex, interval_us: typing.SupportsInt | typing.SupportsIndex = 0) -> None:
        ...
    def watch(self, task: pyllm._core.Task) -> None:
        ...
    @property
    def producer_cpu_seconds(self) -> float:
        ...
    @property
    def tasks(self) -> list[pyllm._core.Task]:
        ...
    @property
    def wakeup_fd(self) -> int:
        ...
def time_server_reparse(output_format: pyllm._core.RenderedChat, pieces: collections.abc.Iterable) -> float:
    """
    Seconds for llama.cpp's server path over the same pieces (reparse of the whole text per piece).
    """
def time_stream_parser(output_format: pyllm._core.RenderedChat, pieces: collections.abc.Iterable, force_reference: bool = False) -> float:
    """
    Seconds to feed every piece to a fresh StreamParser and finish it.
    """
