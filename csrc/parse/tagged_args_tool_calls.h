// Tool calls whose arguments are tags, one per argument, the value as raw text:
//   Qwen3-Coder / Qwen3.5 / Nemotron-3:
//     <tool_call>\n<function=NAME>\n<parameter=KEY>\nVALUE\n</parameter>\n</function>\n</tool_call>
//   GLM-4.5/4.6 and 4.7: <tool_call>NAME\n<arg_key>KEY</arg_key>\n<arg_value>VALUE</arg_value>\n</tool_call>
//   MiniMax-M2: <invoke name="NAME">\n<parameter name="KEY">VALUE</parameter>\n</invoke>
// The arguments JSON is built as the values stream, the way llama.cpp's mapper builds it:
// `{"KEY":` then a string value escaped as it arrives, or a JSON value (typed by the tool's
// schema) passed through, `}` when the call closes. A string value holds back only a tail
// that may be its closing tag; a scalar (number, boolean, null) waits for its closing tag.
#pragma once

#include <map>
#include <string>

#include "chat_layout.h"
#include "marker_matcher.h"
#include "tool_call_syntax.h"

namespace pyllm::parse {

struct TaggedCallFormat {
    std::string call_open;    // right after the call's start marker ("\n" for Qwen3-Coder)
    std::string name_prefix;  // "<function=", "<invoke name=\"", "" (GLM)
    // After the name. Empty: the name ends at whitespace or a tag (GLM-4.7).
    std::string name_suffix;
    std::string arg_prefix;   // "<parameter=", "<arg_key>", "<parameter name=\""
    std::string arg_suffix;   // between the key and the value: ">\n", "</arg_key><arg_value>", "\">"
    std::string value_end;    // "\n</parameter>\n", "</arg_value>", "</parameter>"
    std::string call_end;     // after the last argument: "</function>\n</tool_call>", "</tool_call>", "</invoke>"
    bool space_between_tags = false;  // whitespace may separate the tags (GLM, MiniMax)
    // Opens the value after arg_suffix and any whitespace ("<arg_value>" for GLM, whose
    // models write "</arg_key>\n<arg_value>" and "</arg_key><arg_value>" alike).
    std::string value_open = {};
};

class TaggedArgsToolCalls : public ToolCallSyntax {
public:
    // `arg_kinds`: for each declared tool, how the reference types its arguments.
    TaggedArgsToolCalls(TaggedCallFormat format, std::map<std::string, std::map<std::string, ArgValueKind>> arg_kinds);

    void begin(std::string_view start_marker) override;
    Step consume(std::string_view text, bool at_end, ToolCallSink & sink) override;

private:
    enum class Stage { header, between_args, arg_header, value };
    enum class ValueMode { string, json, undecided };

    // Bytes of `text` the call header takes (0: wait for more, npos: not a call).
    size_t match_header(std::string_view text, std::string & name) const;
    size_t match_arg_header(std::string_view text, std::string & key) const;
    void start_value(std::string_view key, ToolCallSink & sink);
    void value_text(std::string_view text, ToolCallSink & sink);
    void end_value(ToolCallSink & sink);

    TaggedCallFormat format_;
    std::map<std::string, std::map<std::string, ArgValueKind>> arg_kinds_;
    MarkerMatcher value_end_;

    Stage stage_ = Stage::header;
    std::string seed_;  // the part of the header the start marker already held
    const std::map<std::string, ArgValueKind> * args_ = nullptr;  // the called tool's
    size_t arg_count_ = 0;
    ValueMode mode_ = ValueMode::string;
    ArgValueKind kind_;
    std::string undecided_;  // a scalar, or a value that may be JSON or text: kept until its end
};

}  // namespace pyllm::parse
