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
