// The per-family half of a native parser: the syntax of one tool call, from just after its
// start marker to just after its end. The streaming core (TaggedStreamParser) handles
// reasoning, content and the markers between calls.
#pragma once

#include <cstddef>
#include <string_view>

#include "stream_event.h"

namespace pyllm::parse {

// Where a tool call's events go; the core assigns indices and ids.
class ToolCallSink {
public:
    virtual ~ToolCallSink() = default;
    // `id`: the call's id where the model writes one (Kimi-K2's functions.NAME:N, Mistral's
    // [CALL_ID]); empty: one is made.
    virtual void start_call(std::string_view name, std::string_view id) = 0;
    virtual void arguments(std::string_view json_fragment) = 0;
    virtual void end_call() = 0;
};

class ToolCallSyntax {
public:
    enum class Status {
        more,        // everything given was consumed; the call goes on
        done,        // the call ended `consumed` bytes in
        not_a_call,  // the text since the start marker is not a call to a declared tool
        cut_off,     // the output ended inside the call's header: the reference drops it
    };
    struct Step {
        Status status;
        size_t consumed;  // bytes of `text` used; the rest must be offered again
    };

    virtual ~ToolCallSyntax() = default;
    // A new call begins just after `start_marker`, one of the markers that open calls (some
    // formats have several, and a marker may already hold part of the call: `<function=NAME>`).
    virtual void begin(std::string_view start_marker) = 0;
    // Offers the text after what was consumed so far. Returns having consumed less than all
    // of it only to wait for more (a tail that may still become a marker) or when the call is
    // over. `at_end`: no more text will come.
    virtual Step consume(std::string_view text, bool at_end, ToolCallSink & sink) = 0;
};

}  // namespace pyllm::parse
