// The streaming core shared by the native families: an optional reasoning block
// (<think>...</think>, forced open when the generation prompt opened it), content, and
// tool calls introduced by start markers, whose inner syntax a ToolCallSyntax reads.
//
// Each feed scans only the new bytes plus a held-back tail that may still become a marker
// (or complete a UTF-8 character), so a call costs O(bytes fed + longest marker).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "chat_layout.h"
#include "marker_matcher.h"
#include "stream_parser.h"
#include "tool_call_syntax.h"

namespace pyllm::parse {

// How calls follow one another, for formats that wrap a run of calls in a section
// (Kimi-K2's <|tool_calls_section_begin|>...<|tool_calls_section_end|>, MiniMax-M2's
// <minimax:tool_call>...</minimax:tool_call>). Empty: every call opens with a content marker.
struct CallSection {
    std::vector<std::string> next_call;  // markers that open another call inside the section
    std::vector<std::string> end;        // markers that close the section (consumed, not content)
};

class TaggedStreamParser : public FormatParser, private ToolCallSink {
public:
    // `tool_calls` may be null: no tools were declared, everything after reasoning is content.
    TaggedStreamParser(const ChatLayout & layout, std::unique_ptr<ToolCallSyntax> tool_calls,
                       const CallSection & section = {});

    void feed(std::string_view text, StreamEvents & out) override;
    void finish(StreamEvents & out) override;

private:
    enum class State {
        leading_space,    // whitespace at the very start is dropped
        reasoning_probe,  // does the output open with the reasoning start tag?
        reasoning_start_space,
        reasoning,
        reasoning_end_space,
        content,
        tool_call,
        between_calls,    // whitespace after a call, before another call or the end
    };

    // Runs the state machine over buf_[pos_..]; returns false when it must wait for more.
    bool step(bool at_end);
    void emit_text(StreamEventKind kind, std::string_view text);
    void flush_reasoning_whitespace();

    void start_call(std::string_view name, std::string_view id) override;
    void begin_call(std::string marker);
    void arguments(std::string_view json_fragment) override;
    void end_call() override;

    std::string buf_;
    size_t pos_ = 0;
    State state_ = State::leading_space;
    StreamEvents * out_ = nullptr;
    bool finished_ = false;

    std::optional<ReasoningLayout> reasoning_;
    size_t optional_matched_ = 0;  // of reasoning_->start_optional / end_optional
    // Reasoning that is whitespace so far: the reference drops whitespace-only reasoning.
    std::string reasoning_space_;
    bool reasoning_started_ = false;

    MarkerMatcher reasoning_end_;
    MarkerMatcher call_start_;
    MarkerMatcher next_call_;  // after a call: another call, or the end of the section
    std::unique_ptr<ToolCallSyntax> tool_calls_;
    std::string call_marker_;  // the start marker of the call being read
    size_t section_ends_ = 0;  // next_call_'s markers from this index on close the section
    bool section_closed_ = false;
    size_t calls_ = 0;
};

}  // namespace pyllm::parse
