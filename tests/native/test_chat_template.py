"""llama.cpp's chat template rendering against an independent rendering with Python's jinja2.

The reference renders the same template source with the environment Hugging Face
transformers uses (sandboxed jinja2, trim_blocks/lstrip_blocks, its tojson,
raise_exception and strftime_now), with the same messages, tools, bos/eos tokens and
enable_thinking. Wherever llama.cpp adapts the input for a template (a polyfill), the
reference applies the same adaptation and the helper below says why.
"""
from __future__ import annotations

import copy
import datetime
import json
from pathlib import Path
from typing import Any

import jinja2
import jinja2.ext
import jinja2.sandbox
import pytest

import pyllm

# name -> (template file under models/templates, vocab-only GGUF under models/)
TEMPLATES = {
    "qwen3": ("Qwen-Qwen3-0.6B.jinja", "ggml-vocab-qwen2.gguf"),
    "deepseek-r1": ("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", "ggml-vocab-qwen2.gguf"),
    "gpt-oss": ("openai-gpt-oss-120b.jinja", "ggml-vocab-qwen2.gguf"),
    "glm-4.6": ("GLM-4.6.jinja", "ggml-vocab-qwen2.gguf"),
    "gemma-2": ("google-gemma-2-2b-it.jinja", "ggml-vocab-llama-spm.gguf"),
    "gemma-4": ("google-gemma-4-31B-it.jinja", "ggml-vocab-gemma-4.gguf"),
}

# Templates that reject a system role; llama.cpp folds the system text into the first
# user turn (joined by a newline) instead of failing, as llama-server does.
SYSTEM_ROLE_POLYFILL = {"gemma-2"}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}

CONVERSATIONS: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]] | None]] = {
    "system-and-user": (
        [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hello"}],
        None,
    ),
    "multi-turn": (
        [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello! How can I help?"},
            {"role": "user", "content": "What is 2+2? Answer in 日本語 🙂"},
        ],
        None,
    ),
    "reasoning-in-history": (
        [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!", "reasoning_content": "The user greets me."},
            {"role": "user", "content": "2+2?"},
        ],
        None,
    ),
    "tool-call-and-result": (
        [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris", "days": 2})},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        ],
        [WEATHER_TOOL],
    ),
}


def _hf_environment() -> jinja2.Environment:
    def raise_exception(message: str) -> None:
        raise jinja2.TemplateError(message)

    def tojson(value: Any, ensure_ascii: bool = False, indent: Any = None, separators: Any = None,
               sort_keys: bool = False) -> str:
        return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.datetime.now().strftime(fmt)
    return env


def reference_render(name: str, model: pyllm.Model, messages: list[dict[str, Any]],
                     tools: list[dict[str, Any]] | None, enable_thinking: bool) -> str:
    messages = copy.deepcopy(messages)
    # OpenAI clients send tool-call arguments as a JSON string; templates are written for
    # the transformers convention of an object, so llama.cpp parses the string first.
    for message in messages:
        for call in message.get("tool_calls", []):
            call["function"]["arguments"] = json.loads(call["function"]["arguments"])
    if name in SYSTEM_ROLE_POLYFILL and messages[0]["role"] == "system":
        system = messages.pop(0)
        messages[0]["content"] = system["content"] + "\n" + messages[0]["content"]
    context: dict[str, Any] = {
        "messages": messages,
        "add_generation_prompt": True,
        "bos_token": model.bos_token,
        "eos_token": model.eos_token,
        "enable_thinking": enable_thinking,
    }
    if tools:
        context["tools"] = tools
    text = _hf_environment().from_string(model.chat_template).render(**context)
    # The prompt is tokenized with add_special, which prepends BOS when the vocabulary asks
    # for it; llama.cpp drops the template's own leading BOS text so it is not doubled.
    if model.add_bos and text.startswith(model.bos_token):
        text = text[len(model.bos_token):]
    return text


@pytest.fixture(scope="module")
def template_models(llama_cpp_dir: Path) -> dict[str, pyllm.Model]:
    models = {}
    for name, (template_file, vocab_file) in TEMPLATES.items():
        source = (llama_cpp_dir / "models" / "templates" / template_file).read_text()
        models[name] = pyllm.Model.from_template(source, llama_cpp_dir / "models" / vocab_file)
    return models


def _cases():
    for name in TEMPLATES:
        for conversation in CONVERSATIONS:
            if name == "gemma-2" and conversation == "tool-call-and-result":
                continue  # Gemma 2 has no tool role; see test_template_exceptions_become_chat_template_error
            for thinking in (True, False):
                yield pytest.param(name, conversation, thinking, id=f"{name}-{conversation}-thinking={thinking}")


@pytest.mark.parametrize(("name", "conversation", "enable_thinking"), list(_cases()))
def test_matches_jinja2_reference(template_models, name, conversation, enable_thinking):
    model = template_models[name]
    messages, tools = CONVERSATIONS[conversation]
    ours = model.apply_chat_template(messages, tools=tools, enable_thinking=enable_thinking)
    assert ours == reference_render(name, model, messages, tools, enable_thinking)


def test_enable_thinking_switch_changes_qwen3_prompt(template_models):
    model = template_models["qwen3"]
    messages = [{"role": "user", "content": "Hi"}]
    on = model.apply_chat_template(messages, enable_thinking=True)
    off = model.apply_chat_template(messages, enable_thinking=False)
    # Qwen3 with thinking off pre-fills an empty think block.
    assert off == on + "<think>\n\n</think>\n\n"
    assert model.apply_chat_template(messages) == on  # None keeps the template's default


def test_render_chat_reports_thinking_tags_and_format(template_models):
    params = template_models["qwen3"].render_chat([{"role": "user", "content": "Hi"}], tools=[WEATHER_TOOL])
    assert params["supports_thinking"]
    assert params["thinking_start_tag"] == "<think>"
    assert "</think>" in params["thinking_end_tags"]
    assert params["generation_prompt"].endswith("<|im_start|>assistant\n")
    assert params["prompt"].endswith(params["generation_prompt"])
    assert params["format"]


def test_add_generation_prompt_false(template_models):
    model = template_models["qwen3"]
    messages = [{"role": "user", "content": "Hi"}]
    assert model.apply_chat_template(messages, add_generation_prompt=False) == "<|im_start|>user\nHi<|im_end|>\n"


def test_template_kwargs_reach_the_template(template_models):
    model = template_models["gpt-oss"]
    messages = [{"role": "user", "content": "Hi"}]
    assert "Reasoning: high" in model.apply_chat_template(messages, reasoning_effort="high")
    assert "Reasoning: low" in model.apply_chat_template(messages, reasoning_effort="low")


def test_template_exceptions_become_chat_template_error(template_models):
    messages, tools = CONVERSATIONS["tool-call-and-result"]
    with pytest.raises(pyllm.ChatTemplateError, match="Conversation roles must alternate"):
        template_models["gemma-2"].apply_chat_template(messages, tools=tools)


@pytest.mark.parametrize(
    "messages",
    [
        [{"content": "no role"}],
        ["not an object"],
        [{"role": "user", "content": [{"text": "part without type"}]}],
    ],
)
def test_malformed_messages_raise_chat_template_error(template_models, messages):
    with pytest.raises(pyllm.ChatTemplateError, match="invalid chat messages"):
        template_models["qwen3"].apply_chat_template(messages)
