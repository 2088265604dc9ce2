// What a StreamParser emits: one typed delta of the assistant message being generated.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace pyllm::parse {

enum class StreamEventKind {
    reasoning,        // text: a reasoning delta
    content,          // text: a content delta
    tool_call_start,  // index, id, name: sent once per call, when the name is complete and declared
    tool_args,        // index, text: a fragment of the arguments JSON (fragments concatenate)
    tool_call_end,    // index: the call's arguments are complete
};

struct StreamEvent {
    StreamEventKind kind;
    std::string text;
    size_t index = 0;
    std::string id;
    std::string name;
};

using StreamEvents = std::vector<StreamEvent>;

const char * stream_event_kind_name(StreamEventKind kind);

}  // namespace pyllm::parse
