"""SSE writing over a real native task (a synthetic producer stands in for the model), driven
through the response's ASGI interface as uvicorn drives it."""
import asyncio

from pyllm import _bench
from pyllm.engine import AsyncBridge, Task
from pyllm.server.streaming import SSEResponse


def test_idle_stream_gets_pings_between_payloads_and_ends_the_body():
    async def main():
        producer = _bench.SyntheticProducer(1)
        bridge = AsyncBridge(producer)
        task = Task(bridge, producer.tasks[0])
        response = SSEResponse(task, error_frame=lambda e: b"data: error\n\n", ping=b": ping\n\n",
                               ping_interval=0.05, transform=lambda p: f"data: {p}\n\n".encode())
        sent = []
        never = asyncio.Event()

        async def receive():
            await never.wait()

        async def send(message):
            sent.append(message)

        producer.start(3, 2, 250_000)  # 3 payloads, 250 ms apart
        await response(scope={"type": "http"}, receive=receive, send=send)
        producer.join()
        bridge.close()
        return sent

    sent = asyncio.run(main())
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    bodies = [m["body"] for m in sent[1:]]
    payload_at = [i for i, b in enumerate(bodies) if b == b"data: xx\n\n"]
    assert len(payload_at) == 3
    assert b": ping\n\n" in bodies[payload_at[0]:payload_at[-1]], "an idle gap longer than the interval must carry a ping"
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
