// Tool calls whose header is the tool name between two fixed literals, followed by the
// arguments as one raw JSON object, then optionally a closing literal and an end marker:
//   DeepSeek-R1:   function<｜tool▁sep｜>NAME\n```json\n{...}\n```<｜tool▁call▁end｜>
//   DeepSeek-V3.1: NAME<｜tool▁sep｜>{...}<｜tool▁call▁end｜>
//   Mistral:       NAME[ARGS]{...}, or NAME[CALL_ID]id[ARGS]{...}
// (each after the call's start marker, which the core consumes). The arguments pass through
// as the model's raw bytes while nesting is tracked to find their end.
#pragma once

#include <set>
#include <string>

#include "json_value_end.h"
#include "marker_matcher.h"
#include "tool_call_syntax.h"

namespace pyllm::parse {

struct TaggedJsonCallLayout {
    std::string name_prefix;  // literal before the name ("function<｜tool▁sep｜>")
    std::string name_suffix;  // literal after the name ("\n```json\n", "[ARGS]")
    std::string id_marker;    // "[CALL_ID]": may follow the name, then the call's id up to name_suffix
    std::string call_end;     // marker after the arguments; empty: the call ends with them
};

class TaggedJsonToolCalls : public ToolCallSyntax {
public:
    TaggedJsonToolCalls(std::set<std::string> declared_tools, TaggedJsonCallLayout layout);

    void begin(std::string_view start_marker) override;
    Step consume(std::string_view text, bool at_end, ToolCallSink & sink) override;

private:
    enum class Stage { header, arguments, tail };

    Step consume_header(std::string_view text, bool at_end, ToolCallSink & sink);

    std::set<std::string> declared_;
    TaggedJsonCallLayout layout_;
    MarkerMatcher call_end_;
    Stage stage_ = Stage::header;
    bool started_value_ = false;
    JsonValueEnd value_end_;
};

}  // namespace pyllm::parse
