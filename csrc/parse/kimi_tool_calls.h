// Kimi-K2 tool calls, inside an optional section (which the core reads, see CallSection):
//   <|tool_calls_section_begin|><|tool_call_begin|>functions.NAME:0<|tool_call_argument_begin|>{...}
//   <|tool_call_end|>...<|tool_calls_section_end|>
// The call id is the model's own `functions.NAME:N` (the reference keeps it as the id). The
// arguments object passes through as the model's raw JSON bytes while nesting finds its end.
#pragma once

#include <set>
#include <string>

#include "json_value_end.h"
#include "tool_call_syntax.h"

namespace pyllm::parse {

class KimiToolCalls : public ToolCallSyntax {
public:
    explicit KimiToolCalls(std::set<std::string> declared_tools);

    void begin(std::string_view start_marker) override;
    Step consume(std::string_view text, bool at_end, ToolCallSink & sink) override;

private:
    enum class Stage { header, arguments, tail };

    size_t match_header(std::string_view text, std::string & name, std::string & id) const;

    std::set<std::string> declared_;
    Stage stage_ = Stage::header;
    JsonValueEnd value_end_;
};

}  // namespace pyllm::parse
