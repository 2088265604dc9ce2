// The streaming core shared by the native families: an optional reasoning block
// (<think>...</think>, forced open when the generation prompt opened it), content, and
// tool calls introduced by start markers, whose inner syntax a ToolCallSyntax reads. The
// calls may sit inside a section (see CallSection).
//
// Each feed scans only the new bytes plus a held-back tail that may still become a marker
// (or complete a UTF-8 character), so a call costs O(bytes fed + longest marker).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "buffered_parser.h"
#include "chat_layout.h"
#include "marker_matcher.h"
#include "stream_parser.h"
#include "tool_call_syntax.h"

namespace pyllm::parse {

// How a run of calls is laid out, for formats whose calls do not each open with a content
// marker alone. Default (all empty): every call opens with one of the layout's content_until
// markers, and only whitespace separates calls.
//   DeepSeek: {start {<｜tool▁calls▁begin｜>}, next_call {<｜tool▁call▁begin｜>}, end {<｜tool▁calls▁end｜>}}
//   Kimi-K2:  the same with <|tool_calls_section_begin|>, <|tool_call_begin|>, <|tool_calls_section_end|>
//   MiniMax-M2: {start {<minimax:tool_call>\n}, next_call {<invoke name=", ", <invoke name="}, end {</minimax:tool_call>}}
//   Llama 3.x: {separator ","}
struct CallSection {
    // content_until markers that open a section rather than a call; a section no call
    // follows is given back as content.
    std::vector<std::string> start;
    // Markers that open a call inside a section (and after a call); empty: content_until.
    std::vector<std::string> next_call;
    std::vector<std::string> end;  // markers that close the section (consumed, not content)
    // Text allowed between calls besides whitespace; never held back as a partial match, so
    // it must be a single character.
    std::string separator;
    // Short text inside an open section, before its next call or its end, is skipped rather
    // than ending the section (Kimi-K2 models write stray words between the markers).
    bool skip_text_in_section = false;
};

class TaggedStreamParser : public BufferedParser, private ToolCallSink {
public:
    // `tool_calls` may be null: no tools were declared, everything after reasoning is content.
    TaggedStreamParser(const ChatLayout & layout, std::unique_ptr<ToolCallSyntax> tool_calls,
                       CallSection section = {});

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
        between_calls,    // after a call or a section's start: another call, the section's end, or content
    };

    bool step(bool at_end) override;
    void flush_reasoning_whitespace();

    void start_call(std::string_view name, std::string_view id) override;
    // Enters the section or the call whose start marker is at buf_[pos_ + skipped];
    // `given_back` is what turns into content in front of the marker if no call follows.
    void enter(const std::string & marker, size_t skipped, std::string given_back);
    void arguments(std::string_view json_fragment) override;
    void end_call() override;

    State state_ = State::leading_space;

    std::optional<ReasoningLayout> reasoning_;
    size_t optional_matched_ = 0;  // of reasoning_->start_optional / end_optional
    // Reasoning that is whitespace so far: the reference drops whitespace-only reasoning.
    std::string reasoning_space_;
    bool reasoning_started_ = false;

    bool space_before_content_ = false;
    MarkerMatcher reasoning_end_;
    MarkerMatcher call_start_;  // in content: a call's or a section's start, or a dropped marker
    size_t dropped_from_ = 0;   // call_start_'s markers from this index on are dropped
    MarkerMatcher next_call_;   // after a call or a section's start: another call, or the section's end
    CallSection section_;
    std::unique_ptr<ToolCallSyntax> tool_calls_;
    std::string call_marker_;  // what the call being read consumed before it: content if it is none
    size_t section_ends_ = 0;  // next_call_'s markers from this index on close the section
    bool section_closed_ = true;
    // The start marker of a section no call has followed yet (given back as content if none does).
    std::string unproven_section_;
    size_t calls_ = 0;
};

}  // namespace pyllm::parse
