"""pyllm: serve local reasoning models (llama.cpp core) to OpenAI and Anthropic clients."""
from pyllm._core import (
    ChatTemplateError,
    ContextOverflowError,
    EngineOverloadedError,
    InvalidRequestError,
    ModelLoadError,
    PyllmError,
)
from pyllm.default_model import DefaultModelMissingError, default_model_path
from pyllm.embedder import Embedder, EmbeddingJob
from pyllm.engine import Completion, Engine, EngineError, Task, TaskResult, Timings, Usage
from pyllm.model import Model
from pyllm.parse import ParsedMessage, StreamEvent, StreamParser
from pyllm.runtime import build_info, devices, set_log_level

__all__ = [
    "ChatTemplateError",
    "Completion",
    "ContextOverflowError",
    "DefaultModelMissingError",
    "Embedder",
    "EmbeddingJob",
    "Engine",
    "EngineError",
    "EngineOverloadedError",
    "InvalidRequestError",
    "Model",
    "ModelLoadError",
    "ParsedMessage",
    "PyllmError",
    "StreamEvent",
    "StreamParser",
    "build_info",
    "default_model_path",
    "devices",
    "Task",
    "TaskResult",
    "Timings",
    "Usage",
    "set_log_level",
]
