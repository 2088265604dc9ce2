"""pyllm: serve local reasoning models (llama.cpp core) to OpenAI and Anthropic clients."""
from pyllm._core import ChatTemplateError, ModelLoadError, PyllmError
from pyllm.default_model import DefaultModelMissingError, default_model_path
from pyllm.model import Model
from pyllm.parse import ParsedMessage, StreamEvent, StreamParser
from pyllm.runtime import build_info, set_log_level

__all__ = [
    "ChatTemplateError",
    "DefaultModelMissingError",
    "Model",
    "ModelLoadError",
    "ParsedMessage",
    "PyllmError",
    "StreamEvent",
    "StreamParser",
    "build_info",
    "default_model_path",
    "set_log_level",
]
