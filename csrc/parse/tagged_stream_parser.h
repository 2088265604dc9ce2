// The streaming core shared by the native families: an optional reasoning block
// (<think>...</think>, forced open when the generation prompt opened it), content, and
// tool calls introduced by start markers, whose inner syntax a ToolCallSyntax reads. The
// calls may sit inside a section (DeepSeek's <｜tool▁calls▁begin｜>...<｜tool▁calls▁end｜>).
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

// Calls wrapped in a section: the section's start ends the content (it is the layout's
// content_until marker), each call inside begins with call_start, and end closes the section.
struct ToolSection {
    std::string start;
    std::string call_start;
    std::string end;
};

class TaggedStreamParser : public FormatParser, private ToolCallSink {
public:
    // `tool_calls` may be null: no tools were declared, everything after reasoning is content.
    // `call_separator`: text allowed between calls besides whitespace (Llama 3.x's ","); it
    // is never held back as a partial match, so it must be a single character.
    TaggedStreamParser(const ChatLayout & layout, std::unique_ptr<ToolCallSyntax> tool_calls,
                       std::optional<ToolSection> section = std::nullopt, std::string call_separator = {});

    void feed(std::string_view text, StreamEvents & out) override;
    void finish(StreamEvents & out) override;

private:
    enum class State {
        leading_space,    // whitespace at the very start is dropped
        reasoning_probe,  // does the output open with the reasoning start tag?
        reasoning_start_space,
        reasoning,
        reasoning_end_space,
        content_space,    // whitespace the reference skips before the content
        content,
        tool_call,
        between_calls,    // whitespace after a call, before another call or the end
        after_section,    // after a section's end marker
    };

    // Runs the state machine over buf_[pos_..]; returns false when it must wait for more.
    bool step(bool at_end);
    void emit_text(StreamEventKind kind, std::string_view text);
    void flush_reasoning_whitespace();

    void start_call(std::string_view name, std::string_view id) override;
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

    bool space_before_content_ = false;
    MarkerMatcher reasoning_end_;
    MarkerMatcher call_start_;     // in content: a call's (or the section's) start
    MarkerMatcher between_calls_;  // after a call: the next call's start, or the section's end
    std::optional<ToolSection> section_;
    std::string call_separator_;
    std::unique_ptr<ToolCallSyntax> tool_calls_;
    std::string call_marker_;  // the start marker of the call being read
    size_t calls_ = 0;
    size_t calls_in_section_ = 0;
};

}  // namespace pyllm::parse
