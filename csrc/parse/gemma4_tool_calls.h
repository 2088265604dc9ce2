// Gemma 4 tool calls, each after the core's <|tool_call> marker:
//   <|tool_call>call:NAME{key:<|"|>text<|"|>,n:3,flag:true,obj:{a:[1,2]}}<tool_call|>
// The arguments are Gemma's object notation: bare keys (which may hold spaces), strings
// between <|"|> quotes as raw text, numbers, booleans and null bare, objects and arrays
// nested. They are rewritten as JSON while they stream: keys quoted, strings escaped as they
// arrive, a bare scalar checked at its end (one that is not JSON becomes a string), and a
// call that stops making sense is closed where it stands, so the arguments are always JSON.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "marker_matcher.h"
#include "tool_call_syntax.h"

namespace pyllm::parse {

class Gemma4ToolCalls : public ToolCallSyntax {
public:
    explicit Gemma4ToolCalls(std::set<std::string> declared_tools);

    void begin(std::string_view start_marker) override;
    Step consume(std::string_view text, bool at_end, ToolCallSink & sink) override;

private:
    enum class Stage {
        header,       // call:NAME
        key,          // an object's key, up to its ':'
        value,        // the start of a value
        string,       // inside <|"|>...<|"|>
        scalar,       // a bare number, boolean or null, up to what ends it
        after_value,  // ',' or the container's close
        call_end,     // <tool_call|> after the arguments' object
    };

    // Bytes of `text` the header takes (0: wait for more, npos: not a call).
    size_t match_header(std::string_view text, std::string & name) const;
    // Emits what goes in front of the next member or element (a ',' seen before it).
    void separate(ToolCallSink & sink);
    void end_scalar(ToolCallSink & sink);
    void close_container(ToolCallSink & sink);
    // The arguments cannot be read on: whatever is open is closed as valid JSON.
    void close_all(ToolCallSink & sink);

    std::set<std::string> declared_;
    MarkerMatcher quote_{{"<|\"|>"}};
    Stage stage_ = Stage::header;
    std::vector<char> open_;  // '{' or '[' of each container not closed yet
    std::string pending_;     // a key or a bare scalar read so far
    bool comma_ = false;      // a ',' was read and not written yet
    bool awaiting_value_ = false;  // a key was written and its value not begun
};

}  // namespace pyllm::parse
