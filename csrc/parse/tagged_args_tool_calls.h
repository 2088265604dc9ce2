// Tool calls whose arguments are tags, one per argument, the value as raw text:
//   Qwen3-Coder / Qwen3.5 / Nemotron-3:
//     <tool_call>\n<function=NAME>\n<parameter=KEY>\nVALUE\n</parameter>\n</function>\n</tool_call>
//   GLM-4.5/4.6 and 4.7: <tool_call>NAME\n<arg_key>KEY</arg_key>\n<arg_value>VALUE</arg_value>\n</tool_call>
//   MiniMax-M2: <invoke name="NAME">\n<parameter name="KEY">VALUE</parameter>\n</invoke>
//   Kimi K3: <|open|>call tool="NAME" index="1"<|sep|><|open|>argument key="KEY" type="string"<|sep|>VALUE
//     <|close|>argument<|sep|><|close|>call<|sep|> (the type attribute types the value)
//   DeepSeek V3.2 / V4 DSML: <｜DSML｜invoke name="NAME">\n<｜DSML｜parameter name="KEY" string="true">VALUE
//     </｜DSML｜parameter>\n</｜DSML｜invoke> (string="false": the value is JSON), and V4.1's spelling
//     of the same with a space after ｜DSML｜
// The arguments JSON is built as the values stream, the way llama.cpp's mapper builds it:
// `{"KEY":` then a string value escaped as it arrives, or a JSON value (typed by the tool's
// schema) passed through, `}` when the call closes. A string value holds back only a tail
// that may be its closing tag; a scalar (number, boolean, null) waits for its closing tag.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

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
    // Alternatives to arg_suffix that also say how the value is typed, whatever the schema
    // says (DSML: `" string="true">` raw text, `" string="false">` a JSON value).
    std::vector<std::pair<std::string, bool>> typed_arg_suffixes = {};  // (suffix, value is raw text)
    // In place of name_suffix: a call without arguments that ends right there (DSML's
    // `<｜DSML｜invoke name="f"/>`).
    std::string self_closing_suffix = {};
    // One newline right after the value's opening tag belongs to the tag (Qwen3-Coder writes
    // it; models also leave it out).
    bool value_leading_newline = false;
    // May follow call_end, after whitespace (Qwen3-Coder's </tool_call> after </function>).
    std::string call_close = {};
    // Other ways a value ends besides value_end (tried first at a position, in order): a
    // closing tag written without the template's newline, or, where a model dropped the
    // closing tag, the tag that follows it (left for what follows).
    struct OtherValueEnd {
        std::string marker;
        size_t consumed;  // bytes of the marker that belong to the value's end
        // It ends the value only when, after whitespace, one of these (or the output's end)
        // follows; empty: always. Text such as "</parameter>" inside a value stays text.
        std::vector<std::string> confirmed_by;
    };
    std::vector<OtherValueEnd> other_value_ends = {};
    // value_end ends a value only when one of these (or the output's end) follows it (Kimi
    // K3's values may hold its own closing-tag text); empty: always.
    std::vector<std::string> value_end_confirmed_by = {};
    // After name_suffix, attributes up to this literal are skipped (Kimi K3: ` index="1"<|sep|>`).
    std::string header_end = {};
    // Keys are XML-escaped attribute values (&amp; &quot; &lt; &gt; &apos;).
    bool xml_escaped_keys = false;
};

class TaggedArgsToolCalls : public ToolCallSyntax {
public:
    // `spellings`: the format's spellings, one per call start marker (a call's start marker
    // holds its spelling's name_prefix; the first spelling otherwise). `arg_kinds`: for each
    // declared tool, how the reference types its arguments.
    TaggedArgsToolCalls(std::vector<TaggedCallFormat> spellings,
                        std::map<std::string, std::map<std::string, ArgValueKind>> arg_kinds);

    void begin(std::string_view start_marker) override;
    Step consume(std::string_view text, bool at_end, ToolCallSink & sink) override;

private:
    enum class Stage { header, between_args, arg_header, value_start, value, call_close };

    enum class ValueMode { string, json, undecided };

    // Where a value ends (value_end, then other_value_ends), per spelling.
    struct ValueEnd {
        MarkerMatcher matcher;
        std::vector<size_t> consumed;
        std::vector<std::vector<std::string>> confirmed_by;
    };
    // Whether the end marker found at rest[at..after) ends the value: 1 yes, 0 not known yet,
    // -1 it is text.
    static int value_end_confirmed(std::string_view rest, size_t after, const std::vector<std::string> & confirmed_by,
                                   bool at_end);

    // Bytes of `text` the call header takes (0: wait for more, npos: not a call).
    // `self_closed`: the header was a whole call without arguments.
    size_t match_header(std::string_view text, std::string & name, bool & self_closed) const;
    // `typed`: set when the header itself says how the value is typed.
    size_t match_arg_header(std::string_view text, std::string & key, std::optional<ArgValueKind> & typed) const;
    void start_value(std::string_view key, const std::optional<ArgValueKind> & typed, ToolCallSink & sink);
    void value_text(std::string_view text, ToolCallSink & sink);
    void end_value(ToolCallSink & sink);

    const TaggedCallFormat & format() const { return spellings_[spelling_]; }

    std::vector<TaggedCallFormat> spellings_;
    std::vector<ValueEnd> value_ends_;  // one per spelling
    std::map<std::string, std::map<std::string, ArgValueKind>> arg_kinds_;
    size_t spelling_ = 0;  // the current call's

    Stage stage_ = Stage::header;
    std::string seed_;  // the part of the header the start marker already held
    const std::map<std::string, ArgValueKind> * args_ = nullptr;  // the called tool's
    size_t arg_count_ = 0;
    ValueMode mode_ = ValueMode::string;
    ArgValueKind kind_;
    std::string undecided_;  // a scalar, or a value that may be JSON or text: kept until its end
};

}  // namespace pyllm::parse
