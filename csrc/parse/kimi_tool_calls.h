// Kimi-K2 tool calls, inside an optional section:
//   <|tool_calls_section_begin|><|tool_call_begin|>functions.NAME:0<|tool_call_argument_begin|>{...}
//   <|tool_call_end|>...<|tool_calls_section_end|>
// The call id is the model's own `functions.NAME:N` (the reference keeps it as the id). The
// arguments object passes through as the model's raw JSON bytes while nesting finds its end.
#pragma once

#include <set>
#include <string>

#include "tool_call_syntax.h"

namespace pyllm::parse {

class KimiToolCalls : public ToolCallSyntax {
public:
    static constexpr const char * section_begin = "<|tool_calls_section_begin|>";
    static constexpr const char * section_end = "<|tool_calls_section_end|>";
    static constexpr const char * call_begin = "<|tool_call_begin|>";

    explicit KimiToolCalls(std::set<std::string> declared_tools);

    void begin(std::string_view start_marker) override;
    Step consume(std::string_view text, bool at_end, ToolCallSink & sink) override;

private:
    enum class Stage { header, arguments, tail };

    size_t match_header(std::string_view text, std::string & name, std::string & id) const;
    size_t scan_arguments(std::string_view text);

    std::set<std::string> declared_;
    Stage stage_ = Stage::header;
    bool need_call_begin_ = false;  // opened by the section marker: the call marker follows
    int depth_ = 0;
    bool in_string_ = false;
    bool escaped_ = false;
};

}  // namespace pyllm::parse
