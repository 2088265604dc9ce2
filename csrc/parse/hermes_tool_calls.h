// Hermes / Qwen2.5 / Qwen3 tool calls:
//   <tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>
// and Llama 3.x's bare objects, whose start marker is the object's own "{":
//   {"name": "get_weather", "parameters": {"city": "Paris"}}
// and Mistral Nemo's array, whose objects carry an "id" after the arguments:
//   [TOOL_CALLS][{"name": "get_weather", "arguments": {...}, "id": "a1b2c3d4e"}, {...}]
// Inside one <tool_call>, the reference also reads several objects separated by commas.
// The header up to the arguments is read whole (it is short); the arguments object then
// passes through as the model's raw JSON bytes while nesting is tracked to find its end.
#pragma once

#include <optional>
#include <set>
#include <string>

#include "json_value_end.h"
#include "marker_matcher.h"
#include "tool_call_syntax.h"

namespace pyllm::parse {

class HermesToolCalls : public ToolCallSyntax {
public:
    // `call_end` ends a call ("</tool_call>"; empty: the object's closing brace does);
    // `brace_in_start_marker`: the call's start marker was the object's "{";
    // `array_wrapped`: the first object follows a "[".
    HermesToolCalls(std::set<std::string> declared_tools, std::string call_end, std::string args_key = "arguments",
                    bool brace_in_start_marker = false, bool array_wrapped = false);

    // Another key the arguments may come under ("arguments" where the format says "parameters").
    void also_accept_args_key(const std::string & key) { alt_args_key_ = '"' + key + '"'; }
    // Another start marker, after which the object's own "{" follows (Llama's <|python_tag|>).
    void also_open_with(std::string marker) { braced_marker_ = std::move(marker); }

    void begin(std::string_view start_marker) override;
    Step consume(std::string_view text, bool at_end, ToolCallSink & sink) override;

private:
    enum class Stage {
        header,
        arguments,
        object_close,  // the object's closing brace after the arguments
        more_members,  // members after the arguments (Nemo's "id"), up to the object's end
        after_object,  // ", {" another call in the same wrapper, or the end marker
        tail,          // anything else up to the end marker
        // {"arguments": {...}, "name": "NAME"} (Mistral v3 models write the arguments first):
        // the object is read without consuming anything until the name is known, since the
        // call cannot start before it and the text must stay whole if it is not a call.
        arguments_first,
    };

    // Matches `[[] [{] ["type": "function",] "name": "NAME", "<args_key>":` with any spacing.
    // Returns bytes matched, 0 while `text` may still become a header, npos when it cannot.
    size_t match_header(std::string_view text, std::string & name, bool array_open, bool opening_brace) const;
    // The object of the current call has closed.
    std::optional<Step> object_closed(size_t used, ToolCallSink & sink);
    Step consume_arguments(std::string_view text, ToolCallSink & sink);
    // `[[] [{] "<args_key>":` : bytes matched, 0 while it may still become one, npos if not.
    size_t match_arguments_key(std::string_view text) const;
    // The arguments_first stage over the text from the call's start.
    Step consume_arguments_first(std::string_view text, bool at_end, ToolCallSink & sink);

    std::set<std::string> declared_;
    MarkerMatcher call_end_;
    std::string args_key_;  // quoted
    std::string alt_args_key_;
    std::string braced_marker_;
    bool opening_brace_ = true;  // the current call's "{" is still to come
    bool brace_in_start_marker_;
    bool array_wrapped_;
    Stage stage_ = Stage::header;
    bool started_value_ = false;
    JsonValueEnd value_end_;
    // arguments_first: where the arguments begin, how far they were scanned, where they end
    size_t held_start_ = 0;
    size_t held_scanned_ = 0;
    size_t held_end_ = 0;
};

}  // namespace pyllm::parse
