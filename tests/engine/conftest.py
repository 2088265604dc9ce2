import struct
from pathlib import Path

import pytest

import pyllm


@pytest.fixture(scope="module")
def engine(model: pyllm.Model):
    with pyllm.Engine(model, n_parallel=4, n_ctx=4 * 1536, n_batch=512) as e:
        yield e


@pytest.fixture()
def single_slot_engine(model: pyllm.Model):
    with pyllm.Engine(model, n_parallel=1, n_ctx=1024, max_queued=1) as e:
        yield e


_GGUF_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}  # fixed-size value types


def _gguf_u32_offset(data: bytes, wanted: str) -> int:
    """Where the value of the uint32 metadata key ``wanted`` lies in a GGUF header."""
    n_kv = struct.unpack_from("<Q", data, 16)[0]
    off = 24
    for _ in range(n_kv):
        (n,) = struct.unpack_from("<Q", data, off)
        key = data[off + 8:off + 8 + n].decode()
        (vtype,) = struct.unpack_from("<I", data, off + 8 + n)
        off += 12 + n
        if key == wanted:
            assert vtype == 4, vtype
            return off
        if vtype == 8:  # string
            off += 8 + struct.unpack_from("<Q", data, off)[0]
        elif vtype == 9:  # array
            etype, count = struct.unpack_from("<IQ", data, off)
            off += 12
            if etype == 8:
                for _ in range(count):
                    off += 8 + struct.unpack_from("<Q", data, off)[0]
            else:
                off += count * _GGUF_SIZES[etype]
        else:
            off += _GGUF_SIZES[vtype]
    raise KeyError(wanted)


@pytest.fixture(scope="session")
def full_attention_model(default_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> pyllm.Model:
    """The default model with its sliding window set to 0: llama.cpp then runs every layer with
    full attention in a plain KV cache (the layout of most models), same weights."""
    data = bytearray(default_model_path.read_bytes())
    struct.pack_into("<I", data, _gguf_u32_offset(bytes(data[: 64 << 20]), "gemma3.attention.sliding_window"), 0)
    path = tmp_path_factory.mktemp("model") / "gemma-3-270m-full-attention.gguf"
    path.write_bytes(data)
    return pyllm.Model(path)
