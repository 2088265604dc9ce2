// Exception types that cross the native/Python boundary. bindings.cpp maps each one
// to a named Python exception in one place; nothing else is thrown to Python.
#pragma once

#include <stdexcept>
#include <string>

namespace pyllm {

// A GGUF file could not be loaded: missing, unreadable, truncated, not GGUF, unsupported.
struct ModelLoadError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// A chat template failed to parse or render, or the messages given to it were malformed.
struct ChatTemplateError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

}  // namespace pyllm

namespace pyllm {

// A request's parameters are invalid (bad grammar or JSON schema, bad sampling values).
struct InvalidRequestError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Prompt plus requested tokens do not fit a slot's context. The message is the one
// clients match on to trigger compaction: "prompt is too long: N tokens > M maximum".
struct ContextOverflowError : std::runtime_error {
    ContextOverflowError(int n_tokens, int n_ctx)
        : std::runtime_error("prompt is too long: " + std::to_string(n_tokens) + " tokens > " +
                             std::to_string(n_ctx) + " maximum"),
          n_tokens(n_tokens), n_ctx(n_ctx) {}
    int n_tokens;
    int n_ctx;
};

// A task failed inside the engine (e.g. a decode error); other tasks are unaffected.
struct EngineError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Every slot is busy and the wait queue is full.
struct EngineOverloadedError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

}  // namespace pyllm
