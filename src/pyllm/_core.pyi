"""
pyllm native core (llama.cpp); use the pyllm package, not this module
"""
from __future__ import annotations
import collections.abc
import numpy
import numpy.typing
import typing
__all__: list[str] = ['ChatRequest', 'ChatTemplateError', 'ContextOverflowError', 'ENGINE_DEFAULTS', 'Embedder', 'EmbeddingRequest', 'Engine', 'EngineError', 'EngineOverloadedError', 'ImageInput', 'InvalidRequestError', 'Model', 'ModelLoadError', 'OutputProcessor', 'OutputSpec', 'Protocol', 'PyllmError', 'RenderedChat', 'SamplingParams', 'StreamParser', 'Task', 'add_rpc_servers', 'backend_failure', 'build_info', 'devices', 'log_level', 'openai_embeddings_body', 'output_processor', 'replay_processor', 'set_log_level', 'tokenize_array']
class PyllmError(RuntimeError):
    pass
class ModelLoadError(PyllmError):
    pass
class ChatTemplateError(PyllmError):
    pass
class InvalidRequestError(PyllmError):
    pass
class EngineOverloadedError(PyllmError):
    pass
class EngineError(PyllmError):
    pass
class ContextOverflowError(PyllmError):
    pass
class Model:
    def __init__(self, path: str, n_gpu_layers: typing.SupportsInt | typing.SupportsIndex = 0, main_gpu: typing.SupportsInt | typing.SupportsIndex | None = None, use_mmap: bool = True, use_mlock: bool = False, vocab_only: bool = False, chat_template: str = '', repack: bool = True, progress: collections.abc.Callable | None = None, split_mode: str | None = None, tensor_split: collections.abc.Sequence[typing.SupportsFloat | typing.SupportsIndex] = [], devices: collections.abc.Sequence[str] | None = None) -> None:
        ...
    def chat_template_caps(self) -> dict[str, bool]:
        ...
    def detokenize(self, tokens: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], render_special: bool) -> typing.Any:
        ...
    def metadata(self) -> dict[str, str]:
        ...
    def render_chat(self, messages_json: str, tools_json: str, enable_thinking: bool | None, add_generation_prompt: bool, kwargs: collections.abc.Mapping[str, str]) -> dict:
        ...
    def tokenize(self, text: str, add_special: bool, parse_special: bool) -> list[int]:
        ...
    @property
    def add_bos(self) -> bool:
        ...
    @property
    def architecture(self) -> str:
        ...
    @property
    def bos_token(self) -> str:
        ...
    @property
    def chat_template(self) -> str:
        ...
    @property
    def description(self) -> str:
        ...
    @property
    def eos_token(self) -> str:
        ...
    @property
    def n_ctx_train(self) -> int:
        ...
    @property
    def n_embd(self) -> int:
        ...
    @property
    def n_layer(self) -> int:
        ...
    @property
    def n_params(self) -> int:
        ...
    @property
    def n_vocab(self) -> int:
        ...
    @property
    def offloaded_layers(self) -> int:
        ...
    @property
    def path(self) -> str:
        ...
    @property
    def size_bytes(self) -> int:
        ...
    @property
    def vocab_only(self) -> bool:
        ...
    @property
    def weight_buffers(self) -> dict[str, int]:
        ...
class Protocol:
    """
    Members:
    
      text
    
      events
    
      openai_chat
    
      openai_completion
    
      anthropic
    
      responses
    """
    __members__: typing.ClassVar[dict[str, Protocol]]
    anthropic: typing.ClassVar[Protocol]
    events: typing.ClassVar[Protocol]
    openai_chat: typing.ClassVar[Protocol]
    openai_completion: typing.ClassVar[Protocol]
    responses: typing.ClassVar[Protocol]
    text: typing.ClassVar[Protocol]
    @typing.overload
    def __eq__(self, other: Protocol) -> bool:
        ...
    @typing.overload
    def __eq__(self, other: typing.Any) -> bool:
        ...
    def __getstate__(self) -> int:
        ...
    def __hash__(self) -> int:
        ...
    def __index__(self) -> int:
        ...
    def __init__(self, value: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __int__(self) -> int:
        ...
    @typing.overload
    def __ne__(self, other: Protocol) -> bool:
        ...
    @typing.overload
    def __ne__(self, other: typing.Any) -> bool:
        ...
    def __repr__(self) -> str:
        ...
    def __setstate__(self, state: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __str__(self) -> str:
        ...
    @property
    def name(self) -> str:
        ...
    @property
    def value(self) -> int:
        ...
class SamplingParams:
    """
    Sampling and limits of one request; the defaults are the engine's.
    """
    grammar: str
    grammar_lazy: bool
    ignore_eos: bool
    json_schema: str
    def __init__(self, **kwargs) -> None:
        ...
    @property
    def frequency_penalty(self) -> float:
        ...
    @frequency_penalty.setter
    def frequency_penalty(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def grammar_triggers(self) -> list[tuple[str, str]]:
        ...
    @grammar_triggers.setter
    def grammar_triggers(self, arg0: collections.abc.Sequence[tuple[str, str]]) -> None:
        ...
    @property
    def logit_bias(self) -> dict[int, float]:
        ...
    @logit_bias.setter
    def logit_bias(self, arg0: collections.abc.Mapping[typing.SupportsInt | typing.SupportsIndex, typing.SupportsFloat | typing.SupportsIndex]) -> None:
        ...
    @property
    def max_tokens(self) -> int:
        ...
    @max_tokens.setter
    def max_tokens(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def min_p(self) -> float:
        ...
    @min_p.setter
    def min_p(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def n_probs(self) -> int:
        ...
    @n_probs.setter
    def n_probs(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def presence_penalty(self) -> float:
        ...
    @presence_penalty.setter
    def presence_penalty(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def preserved_tokens(self) -> list[int]:
        ...
    @preserved_tokens.setter
    def preserved_tokens(self, arg0: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex]) -> None:
        ...
    @property
    def reasoning_budget_tokens(self) -> int:
        ...
    @reasoning_budget_tokens.setter
    def reasoning_budget_tokens(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def repeat_last_n(self) -> int:
        ...
    @repeat_last_n.setter
    def repeat_last_n(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def repeat_penalty(self) -> float:
        ...
    @repeat_penalty.setter
    def repeat_penalty(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def seed(self) -> int | None:
        ...
    @seed.setter
    def seed(self, arg0: typing.SupportsInt | typing.SupportsIndex | None) -> None:
        ...
    @property
    def stop(self) -> list[str]:
        ...
    @stop.setter
    def stop(self, arg0: collections.abc.Sequence[str]) -> None:
        ...
    @property
    def temperature(self) -> float:
        ...
    @temperature.setter
    def temperature(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def top_k(self) -> int:
        ...
    @top_k.setter
    def top_k(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def top_p(self) -> float:
        ...
    @top_p.setter
    def top_p(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
class OutputSpec:
    """
    How a request's output is written: protocol and its options.
    """
    id: str
    include_usage: bool
    model: str
    protocol: Protocol
    reasoning_field: str
    reasoning_summary: bool
    request_fields: str
    stream: bool
    tool_search: str
    def __init__(self, **kwargs) -> None:
        ...
    @property
    def created(self) -> int:
        ...
    @created.setter
    def created(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def responses_tools(self) -> list[tuple[str, bool, str, str]]:
        ...
    @responses_tools.setter
    def responses_tools(self, arg0: collections.abc.Sequence[tuple[str, bool, str, str]]) -> None:
        ...
class ImageInput:
    """
    One image of a conversation: the file's bytes, the declared media type ('' if none) and where in the request it was.
    """
    data: bytes
    media_type: str
    where: str
    def __init__(self, **kwargs) -> None:
        ...
class ChatRequest:
    """
    One API-neutral request: a conversation (messages_json) or a raw prompt, sampling, and the output spec.
    """
    continue_final_message: bool
    enable_thinking: bool | None
    extract_reasoning: bool
    json_schema: str
    messages_json: str
    output: OutputSpec
    parallel_tool_calls: bool
    prompt_text: str
    sampling: SamplingParams
    tool_choice: str
    tools_json: str
    def __init__(self, **kwargs) -> None:
        ...
    @property
    def images(self) -> list[ImageInput]:
        ...
    @images.setter
    def images(self, arg0: collections.abc.Sequence[ImageInput]) -> None:
        ...
    @property
    def prompt_tokens(self) -> list[int]:
        ...
    @prompt_tokens.setter
    def prompt_tokens(self, arg0: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex]) -> None:
        ...
    @property
    def template_kwargs(self) -> dict[str, str]:
        ...
    @template_kwargs.setter
    def template_kwargs(self, arg0: collections.abc.Mapping[str, str]) -> None:
        ...
    @property
    def tool_input_grammars(self) -> dict[str, str]:
        ...
    @tool_input_grammars.setter
    def tool_input_grammars(self, arg0: collections.abc.Mapping[str, str]) -> None:
        ...
class Task:
    def cancel(self) -> None:
        ...
    def logprobs(self, start: typing.SupportsInt | typing.SupportsIndex = 0) -> list:
        ...
    def raise_if_failed(self) -> None:
        """
        Raises EngineError when the task ended in an engine failure.
        """
    def raise_if_refused(self) -> None:
        """
        Raises what refused the request in preparation (ContextOverflowError, InvalidRequestError, ChatTemplateError, EngineOverloadedError); nothing if it was queued.
        """
    def take(self) -> tuple:
        ...
    def timings(self) -> dict:
        ...
    def usage(self) -> dict:
        ...
    def wait(self, timeout_ms: typing.SupportsInt | typing.SupportsIndex) -> tuple:
        ...
    def wait_done(self, timeout_ms: typing.SupportsInt | typing.SupportsIndex) -> bool:
        ...
    def wait_prepared(self, timeout_ms: typing.SupportsInt | typing.SupportsIndex) -> bool:
        ...
    @property
    def done(self) -> bool:
        ...
    @property
    def error(self) -> str:
        ...
    @property
    def finish_reason(self) -> str:
        ...
    @property
    def id(self) -> int:
        ...
    @property
    def prepared(self) -> bool:
        ...
    @property
    def stop_sequence(self) -> str:
        ...
class Engine:
    def __init__(self, model: Model, n_parallel: typing.SupportsInt | typing.SupportsIndex = 4, n_ctx: typing.SupportsInt | typing.SupportsIndex = 0, n_batch: typing.SupportsInt | typing.SupportsIndex = 512, n_threads: typing.SupportsInt | typing.SupportsIndex = 0, flash_attn: typing.SupportsInt | typing.SupportsIndex = -1, max_queued: typing.SupportsInt | typing.SupportsIndex = 64, kv_unified: bool = True, cache_ram_mib: typing.SupportsInt | typing.SupportsIndex = 8192, swa_full: bool = False, ctx_checkpoints: typing.SupportsInt | typing.SupportsIndex = 8, max_stall_ms: typing.SupportsInt | typing.SupportsIndex = 0, mmproj: str = '', image_max_pixels: typing.SupportsInt | typing.SupportsIndex = 0, mmproj_offload: bool = True, grammar: str = '') -> None:
        ...
    def count_tokens(self, request: ChatRequest) -> int:
        """
        Prompt tokens of a request exactly as submit() would queue it.
        """
    def drain(self) -> list:
        ...
    def shutdown(self) -> None:
        ...
    def stats(self) -> dict:
        ...
    def submit(self, request: ChatRequest) -> Task:
        """
        Queue a request for preparation (template, tokens, grammar, parser, encoder) on a native worker; the task is returned at once and wakes its watcher when queued or refused.
        """
    def watch(self, task: Task) -> None:
        ...
    @property
    def n_ctx_slot(self) -> int:
        ...
    @property
    def vision(self) -> bool:
        """
        Whether image input is available (a multimodal projector was loaded).
        """
    @property
    def wakeup_fd(self) -> int:
        ...
class EmbeddingRequest:
    def input_lengths(self) -> list[int]:
        ...
    def take_vectors(self) -> numpy.typing.NDArray[numpy.float32]:
        ...
    @property
    def completion(self) -> Task:
        ...
    @property
    def n_dims(self) -> int:
        ...
    @property
    def n_inputs(self) -> int:
        ...
    @property
    def n_tokens(self) -> int:
        ...
class Embedder:
    def __init__(self, model: Model, n_batch: typing.SupportsInt | typing.SupportsIndex = 512, n_seq_max: typing.SupportsInt | typing.SupportsIndex = 0, n_threads: typing.SupportsInt | typing.SupportsIndex = 0, flash_attn: typing.SupportsInt | typing.SupportsIndex = 0, pooling: str = '', max_queued: typing.SupportsInt | typing.SupportsIndex = 64) -> None:
        ...
    def drain(self) -> list:
        ...
    def shutdown(self) -> None:
        ...
    def stats(self) -> dict:
        ...
    def submit(self, inputs: collections.abc.Sequence[collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex]], normalize: bool, truncate: bool) -> EmbeddingRequest:
        ...
    def submit_texts(self, texts: collections.abc.Sequence[str], normalize: bool, truncate: bool) -> EmbeddingRequest:
        ...
    def watch(self, task: Task) -> None:
        ...
    @property
    def max_input_tokens(self) -> int:
        ...
    @property
    def n_dims(self) -> int:
        ...
    @property
    def pooling(self) -> str:
        ...
    @property
    def wakeup_fd(self) -> int:
        ...
class RenderedChat:
    def __init__(self, model: Model, messages_json: str, tools_json: str, enable_thinking: bool | None, extract_reasoning: bool, parallel_tool_calls: bool, tool_choice: str = 'auto', continue_final_message: bool = False, json_schema: str = '', template_kwargs: collections.abc.Mapping[str, str] = {}, tool_input_grammars: collections.abc.Mapping[str, str] = {}) -> None:
        ...
    def reference_parse(self, text: typing.Any, is_partial: bool) -> dict:
        ...
    @property
    def additional_stops(self) -> list[str]:
        ...
    @property
    def generation_prompt(self) -> str:
        ...
    @property
    def grammar(self) -> str:
        ...
    @property
    def grammar_lazy(self) -> bool:
        ...
    @property
    def preserved_tokens(self) -> list[str]:
        ...
    @property
    def prompt(self) -> str:
        ...
    @property
    def supports_thinking(self) -> bool:
        ...
    @property
    def thinking_end_tags(self) -> list[str]:
        ...
    @property
    def thinking_start_tag(self) -> str:
        ...
class StreamParser:
    def __init__(self, output_format: RenderedChat, force_reference: bool = False) -> None:
        ...
    def feed(self, text: typing.Any) -> list:
        ...
    def feed_many(self, pieces: collections.abc.Iterable) -> list:
        ...
    def finish(self) -> list:
        ...
    @property
    def family(self) -> str:
        ...
class OutputProcessor:
    @property
    def submitted(self) -> bool:
        ...
def add_rpc_servers(endpoints: collections.abc.Sequence[str]) -> None:
    ...
def backend_failure() -> str:
    ...
def build_info() -> dict:
    ...
def devices() -> list:
    ...
def log_level() -> int:
    ...
def openai_embeddings_body(vectors: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], model: str, base64: bool, prompt_tokens: typing.SupportsInt | typing.SupportsIndex) -> bytes:
    """
    The JSON body of an OpenAI embeddings response for float32 rows.
    """
def output_processor(spec: OutputSpec, output_format: RenderedChat = None, stop_sequences: collections.abc.Sequence[str] = []) -> OutputProcessor:
    """
    The output processor (parser + encoder) a request with this output spec gets, for replay_processor.
    """
def replay_processor(processor: OutputProcessor, pieces: collections.abc.Sequence[str], finish_reason: str = 'stop', prompt_tokens: typing.SupportsInt | typing.SupportsIndex = 0) -> tuple[list[str], list[int]]:
    """
    Run a processor over text pieces without an engine, as if each were one token: (payloads, nanoseconds per piece). For protocol tests that replay chunkings, and the encoder benchmark.
    """
def set_log_level(level: typing.SupportsInt | typing.SupportsIndex) -> None:
    ...
def tokenize_array(model: Model, text: str, add_special: bool, parse_special: bool) -> numpy.typing.NDArray[numpy.int32]:
    """
    Model.tokenize as an int32 array that owns the native buffer.
    """
ENGINE_DEFAULTS: dict = {'n_parallel': 4, 'n_ctx': 0, 'n_batch': 512, 'n_threads': 0, 'max_queued': 64, 'cache_ram_mib': 8192, 'swa_full': False, 'ctx_checkpoints': 8, 'max_stall_ms': 0}
