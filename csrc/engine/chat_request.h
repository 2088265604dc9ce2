// One API-neutral request as it crosses over from Python: what to render (a conversation
// through the chat template, or a raw prompt), how to sample, and how to write the output
// (the protocol and its options). Python validates a body into one of these; everything
// after that (rendering, tokenizing, grammars, the parser and the encoder) is native and
// runs off the event loop (request_preparer.h).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "llama.h"

namespace pyllm {

class Model;
struct TaskParams;

// Sampling and limits of one request. These defaults are the engine's: nothing else
// defines them.
struct SamplingParams {
    int32_t max_tokens = -1;  // -1: until end of generation or the slot's context is full
    float temperature = 0.8f;  // <= 0: greedy
    float top_p = 0.95f;
    int32_t top_k = 40;
    float min_p = 0.05f;
    std::optional<uint32_t> seed;
    float repeat_penalty = 1.0f;
    int32_t repeat_last_n = 64;
    float presence_penalty = 0.0f;
    float frequency_penalty = 0.0f;
    std::map<llama_token, float> logit_bias;
    std::vector<std::string> stop;  // never emitted, not even partly
    bool ignore_eos = false;        // generate max_tokens tokens whatever the model says
    std::string grammar;            // GBNF
    bool grammar_lazy = false;      // applied only after one of grammar_triggers
    std::vector<std::pair<std::string, std::string>> grammar_triggers;  // (word|pattern|pattern_full|token, value)
    std::string json_schema;        // JSON text, compiled to a grammar
    int32_t n_probs = 0;            // log-probabilities of the top n_probs candidates per token
    std::vector<llama_token> preserved_tokens;  // special tokens rendered as text
    int32_t reasoning_budget_tokens = -1;       // bounds a reasoning template's thinking; -1: none
};

// The engine's task parameters for `s`; throws InvalidRequestError for a bad trigger.
TaskParams task_params(const Model & model, const SamplingParams & s);

enum class Protocol {
    text,               // the generated text itself, piece by piece
    events,             // parser events as JSON objects (pyllm.Engine.chat)
    openai_chat,        // chat.completion(.chunk), SSE-framed when streaming
    openai_completion,  // text_completion, SSE-framed when streaming
    anthropic,          // Messages API: SSE frames when streaming, else one Message
    responses,          // Responses API: SSE frames with sequence numbers, else one Response
};

struct OutputSpec {
    Protocol protocol = Protocol::text;
    std::string id;     // chatcmpl-... / cmpl-... / msg_...
    int64_t created = 0;
    std::string model;  // the name echoed back
    bool stream = false;
    bool include_usage = false;                        // OpenAI stream_options.include_usage
    std::string reasoning_field = "reasoning_content";  // OpenAI: or "reasoning" (vLLM / Ollama)
    std::string tool_search;  // Anthropic: the search tools and deferred tools (protocol/tool_search.h)
    // Responses: the request members every Response echoes (JSON members without braces);
    // per tool (name the template knows, custom, namespace, name); whether reasoning items
    // carry their text as the summary too.
    std::string request_fields;
    std::vector<std::tuple<std::string, bool, std::string, std::string>> responses_tools;
    bool reasoning_summary = false;
};

// One image of a conversation, as the client sent it (Python fetched URLs and decoded base64):
// the file's bytes, the media type the client declared ("" if none) and where in the request
// it was, for error messages ("messages.0.content.1").
struct ImageInput {
    std::string data;
    std::string media_type;
    std::string where;
};

struct ChatRequest {
    // A conversation through the model's chat template...
    std::string messages_json;  // [{"role": ..., "content": ...}, ...]; empty: a raw prompt
    std::string tools_json;     // [{"type": "function", ...}] or empty
    std::optional<bool> enable_thinking;
    bool extract_reasoning = true;
    bool parallel_tool_calls = true;
    std::string tool_choice = "auto";  // auto | none | required
    bool continue_final_message = false;  // the last message is a prefill the output continues
    std::string json_schema;    // response_format: the answer's JSON schema
    std::map<std::string, std::string> template_kwargs;  // values as JSON text
    // Tool name -> GBNF for the text of its string argument `input` (Responses freeform
    // tools; applied where the tools are described in the prompt).
    std::map<std::string, std::string> tool_input_grammars;
    // The conversation's images in message order; each stands where messages_json has a
    // {"type": "image"} content part (needs a projector, --mmproj).
    std::vector<ImageInput> images;
    // ...or a raw prompt: text (tokenized with BOS, special tokens parsed) or token ids.
    std::string prompt_text;
    std::vector<llama_token> prompt_tokens;

    SamplingParams sampling;
    OutputSpec output;

    bool is_chat() const { return !messages_json.empty(); }
};

}  // namespace pyllm
