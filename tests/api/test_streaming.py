"""SSE framing over a real native task (a synthetic producer stands in for the model)."""
import asyncio

from pyllm import _core
from pyllm.engine import AsyncBridge, Task
from pyllm.server.streaming import _frames


def test_idle_stream_gets_pings_between_payloads_and_trailer_last():
    async def main():
        producer = _core.SyntheticProducer(1)
        bridge = AsyncBridge(producer)
        task = Task(bridge, producer.tasks[0])
        frames = _frames(task, frame=lambda p: f"data: {p}\n\n", ping=": ping\n\n", ping_interval=0.05,
                         error_frame=lambda e: "data: error\n\n", trailer="data: [DONE]\n\n")
        producer.start(3, 2, 250_000)  # 3 payloads, 250 ms apart
        out = [f async for f in frames]
        producer.join()
        bridge.close()
        return out

    out = asyncio.run(main())
    payload_at = [i for i, f in enumerate(out) if f == "data: xx\n\n"]
    assert len(payload_at) == 3
    assert out[-1] == "data: [DONE]\n\n"
    assert ": ping\n\n" in out[payload_at[0]:payload_at[-1]], "an idle gap longer than the interval must carry a ping"
