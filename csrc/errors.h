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
