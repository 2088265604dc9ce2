// gpt-oss "harmony" output: a sequence of messages, each a header and a body,
//   <|channel|>analysis<|message|>reasoning<|end|><|start|>assistant<|channel|>final<|message|>answer
// ending with the final message; tool calls, whose recipient sits in the header, each end at
// <|call|> and may be followed by more messages (another call, a final message):
//   <|start|>assistant to=functions.NAME<|channel|>commentary <|constrain|>json<|message|>{json}
//   <|start|>assistant<|channel|>commentary to=functions.NAME <|constrain|>json<|message|>{json}
// (the generation prompt already holds the first "<|start|>assistant").
//
// A FormatParser of its own rather than a TaggedStreamParser family: a message's kind is known
// only once its whole header is read, reasoning may come back after content (analysis,
// commentary preamble, analysis again), and the tool call's name precedes its channel, none
// of which the core's reasoning -> content -> calls order can express.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "chat.h"
#include "json_value_end.h"
#include "marker_matcher.h"
#include "buffered_parser.h"
#include "stream_parser.h"

namespace pyllm::parse {

struct HarmonyLayout {
    bool tool_calls = false;  // the reference reads calls to the declared tools
};

// Nullopt unless llama.cpp built its gpt-oss parser, extracting reasoning, for plain output
// (a response-format schema, or reasoning left in the content, stay with the reference).
std::optional<HarmonyLayout> read_harmony_layout(const common_chat_params & params);

class HarmonyStreamParser : public BufferedParser {
public:
    // `declared_tools`: the functions a recipient may name; calls to others are dropped, as
    // the reference drops unsolicited messages.
    explicit HarmonyStreamParser(std::set<std::string> declared_tools);

private:
    enum class State {
        header,          // up to <|message|>
        body,            // up to <|end|>
        tool_arguments,  // the call's raw JSON
        after_call,      // the call's <|call|>, if written
        next_message,    // <|start|>assistant after a message's <|end|> or a call
        done,            // after the final message or the call: the reference reads no further
        malformed,       // not harmony: the rest is content, never dropped
    };
    enum class Body { reasoning, content, final_content, ignored };

    bool step(bool at_end) override;
    // Reads a complete header (without <|message|>); false when it is not a harmony header.
    bool open_message(std::string_view header);

    std::set<std::string> declared_;
    State state_ = State::header;
    Body body_ = Body::content;
    MarkerMatcher message_end_{{"<|end|>"}};
    JsonValueEnd arguments_end_;
    bool arguments_started_ = false;
    size_t calls_ = 0;  // calls ended so far: the next call's index
};

}  // namespace pyllm::parse
