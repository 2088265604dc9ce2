#include "tagged_stream_parser.h"

#include "tool_call_id.h"
#include "utf8_tail.h"

namespace pyllm::parse {

namespace {
bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// The offset of the first non-whitespace byte of `text` at or after `from`.
size_t skip_space(std::string_view text, size_t from) {
    while (from < text.size() && is_space(text[from])) {
        ++from;
    }
    return from;
}
}  // namespace

TaggedStreamParser::TaggedStreamParser(const ChatLayout & layout, std::unique_ptr<ToolCallSyntax> tool_calls,
                                       std::optional<ToolSection> section, std::string call_separator)
    : state_(layout.skip_leading_space ? State::leading_space : State::reasoning_probe),
      reasoning_(layout.reasoning),
      space_before_content_(layout.space_before_content),
      tool_calls_(std::move(tool_calls)),
      section_(std::move(section)),
      call_separator_(std::move(call_separator)) {
    if (reasoning_) {
        reasoning_end_ = MarkerMatcher({reasoning_->end});
    }
    if (tool_calls_) {
        call_start_ = MarkerMatcher(layout.content_until);
        between_calls_ = section_ ? MarkerMatcher({section_->call_start, section_->end}) : call_start_;
    }
    // The reference parses the end of the generation prompt again in front of the output:
    // a prompt ending in "<think>" leaves the output inside reasoning, and a prompt holding
    // an empty think block leaves it in content. Running it through the same machine keeps
    // both cases exact; it can only yield whitespace reasoning, which is dropped.
    StreamEvents discarded;
    out_ = &discarded;
    buf_ = layout.prompt_tail;
    while (step(false)) {
    }
    buf_.erase(0, pos_);
    pos_ = 0;
    out_ = nullptr;
}

void TaggedStreamParser::emit_text(StreamEventKind kind, std::string_view text) {
    if (text.empty()) {
        return;
    }
    if (!out_->empty() && out_->back().kind == kind &&
        (kind == StreamEventKind::content || kind == StreamEventKind::reasoning)) {
        out_->back().text.append(text);
        return;
    }
    out_->push_back({kind, std::string(text)});
}

void TaggedStreamParser::flush_reasoning_whitespace() {
    if (!reasoning_space_.empty()) {
        emit_text(StreamEventKind::reasoning, reasoning_space_);
        reasoning_space_.clear();
    }
}

void TaggedStreamParser::start_call(std::string_view name, std::string_view id) {
    out_->push_back({StreamEventKind::tool_call_start, {}, calls_, id.empty() ? new_tool_call_id() : std::string(id),
                     std::string(name)});
}

void TaggedStreamParser::arguments(std::string_view json_fragment) {
    if (json_fragment.empty()) {
        return;
    }
    if (!out_->empty() && out_->back().kind == StreamEventKind::tool_args) {
        out_->back().text.append(json_fragment);
        return;
    }
    out_->push_back({StreamEventKind::tool_args, std::string(json_fragment), calls_});
}

void TaggedStreamParser::end_call() {
    out_->push_back({StreamEventKind::tool_call_end, {}, calls_});
    ++calls_;
}

bool TaggedStreamParser::step(bool at_end) {
    const std::string_view rest = std::string_view(buf_).substr(pos_);
    if (rest.empty() && state_ != State::tool_call) {
        return false;
    }
    switch (state_) {
        case State::leading_space: {
            size_t n = 0;
            while (n < rest.size() && is_space(rest[n])) {
                ++n;
            }
            pos_ += n;
            if (n == rest.size()) {
                return false;
            }
            state_ = State::reasoning_probe;
            return true;
        }
        case State::reasoning_probe: {
            if (!reasoning_) {
                state_ = space_before_content_ ? State::content_space : State::content;
                return true;
            }
            const std::string & tag = reasoning_->start;
            const size_t n = std::min(tag.size(), rest.size());
            if (rest.compare(0, n, tag, 0, n) != 0) {
                state_ = space_before_content_ ? State::content_space : State::content;
                return true;
            }
            if (n < tag.size()) {
                if (at_end) {
                    state_ = space_before_content_ ? State::content_space : State::content;
                    return true;
                }
                return false;
            }
            pos_ += tag.size();
            optional_matched_ = 0;
            state_ = State::reasoning_start_space;
            return true;
        }
        case State::reasoning_start_space:
        case State::reasoning_end_space: {
            const bool start = state_ == State::reasoning_start_space;
            const std::string & optional = start ? reasoning_->start_optional : reasoning_->end_optional;
            if (optional_matched_ < optional.size() && rest[0] == optional[optional_matched_]) {
                ++pos_;
                ++optional_matched_;
                return true;
            }
            // The reference tries each optional character once, in order: skip the unmatched.
            if (optional_matched_ < optional.size()) {
                ++optional_matched_;
                return true;
            }
            state_ = start ? State::reasoning : space_before_content_ ? State::content_space : State::content;
            return true;
        }
        case State::content_space: {
            const size_t n = skip_space(rest, 0);
            pos_ += n;
            if (n == rest.size()) {
                return false;
            }
            state_ = State::content;
            return true;
        }
        case State::reasoning: {
            const auto m = reasoning_end_.find(rest);
            size_t text_end = m.text_end;
            if (m.marker < 0 && !at_end) {
                text_end -= incomplete_utf8_tail(rest.substr(0, text_end));
            }
            std::string_view text = rest.substr(0, text_end);
            if (!reasoning_started_) {
                size_t ws = 0;
                while (ws < text.size() && is_space(text[ws])) {
                    ++ws;
                }
                reasoning_space_.append(text.substr(0, ws));
                text.remove_prefix(ws);
                if (!text.empty()) {
                    reasoning_started_ = true;
                    flush_reasoning_whitespace();
                }
            }
            emit_text(StreamEventKind::reasoning, text);
            pos_ += text_end;
            if (m.marker < 0) {
                // At the end, a held-back tail is a cut-off end tag: the reference drops it.
                pos_ = at_end ? buf_.size() : pos_;
                return false;
            }
            pos_ += reasoning_end_.marker(m.marker).size();
            reasoning_space_.clear();
            optional_matched_ = 0;
            state_ = State::reasoning_end_space;
            return true;
        }
        case State::content: {
            if (call_start_.empty()) {
                size_t text_end = rest.size();
                if (!at_end) {
                    text_end -= incomplete_utf8_tail(rest);
                }
                emit_text(StreamEventKind::content, rest.substr(0, text_end));
                pos_ += text_end;
                return false;
            }
            const auto m = call_start_.find(rest);
            size_t text_end = m.text_end;
            if (m.marker < 0 && !at_end) {
                text_end -= incomplete_utf8_tail(rest.substr(0, text_end));
            }
            emit_text(StreamEventKind::content, rest.substr(0, text_end));
            pos_ += text_end;
            if (m.marker < 0) {
                // At the end, a held-back tail is a cut-off call marker: the reference drops it.
                pos_ = at_end ? buf_.size() : pos_;
                return false;
            }
            pos_ += call_start_.marker(m.marker).size();
            if (section_) {
                calls_in_section_ = 0;
                state_ = State::between_calls;
                return true;
            }
            call_marker_ = call_start_.marker(m.marker);
            tool_calls_->begin();
            state_ = State::tool_call;
            return true;
        }
        case State::tool_call: {
            const auto r = tool_calls_->consume(rest, at_end, *this);
            pos_ += r.consumed;
            switch (r.status) {
                case ToolCallSyntax::Status::more:
                    return false;
                case ToolCallSyntax::Status::done:
                    ++calls_in_section_;
                    state_ = State::between_calls;
                    return true;
                case ToolCallSyntax::Status::cut_off:
                    pos_ = buf_.size();
                    return false;
                case ToolCallSyntax::Status::not_a_call:
                    // Not a call after all (an undeclared tool, a malformed or cut-off header):
                    // the start marker and what follows are content, never dropped.
                    emit_text(StreamEventKind::content, call_marker_);
                    state_ = State::content;
                    return true;
            }
            return false;
        }
        case State::between_calls: {
            size_t n = 0;
            while (n < rest.size() && is_space(rest[n])) {
                ++n;
            }
            if (n == rest.size()) {
                if (at_end) {
                    pos_ += n;  // trailing whitespace after the last call is not content
                }
                return false;
            }
            if (!call_separator_.empty() && rest.compare(n, call_separator_.size(), call_separator_) == 0) {
                n = skip_space(rest, n + call_separator_.size());
                if (n == rest.size()) {
                    pos_ += at_end ? n : 0;  // a separator the output ended after: the reference drops it
                    return false;
                }
            }
            const auto m = between_calls_.find(rest.substr(n));
            // A section's start marker is content again if no call follows it.
            const bool section_unproven = section_ && calls_in_section_ == 0;
            if (m.text_end == 0 && m.marker >= 0) {
                const std::string & marker = between_calls_.marker(m.marker);
                if (section_ && marker == section_->end) {
                    if (section_unproven) {
                        emit_text(StreamEventKind::content, section_->start);
                        state_ = State::content;
                        return true;
                    }
                    pos_ += n + marker.size();
                    state_ = State::after_section;
                    return true;
                }
                // Everything the call's start consumed, to give back as content if it is not one.
                call_marker_ = section_unproven ? section_->start : std::string();
                call_marker_.append(rest.substr(0, n)).append(marker);
                pos_ += n + marker.size();
                tool_calls_->begin();
                state_ = State::tool_call;
                return true;
            }
            if (m.text_end == 0 && !at_end) {
                return false;  // may still become another call
            }
            if (section_unproven && at_end && m.text_end == 0) {
                pos_ = buf_.size();  // a cut-off section start: the reference drops it
                return false;
            }
            // Text after the calls: llama.cpp's parser rejects it; it is kept as content.
            if (section_unproven) {
                emit_text(StreamEventKind::content, section_->start);
            }
            state_ = State::content;
            return true;
        }
        case State::after_section: {
            // The reference ends the output here; text after the section is kept as content.
            const size_t n = skip_space(rest, 0);
            if (n == rest.size()) {
                pos_ += at_end ? n : 0;
                return false;
            }
            state_ = State::content;
            return true;
        }
    }
    return false;
}

void TaggedStreamParser::feed(std::string_view text, StreamEvents & out) {
    if (finished_) {
        return;
    }
    buf_.append(text);
    out_ = &out;
    while (step(false)) {
    }
    buf_.erase(0, pos_);
    pos_ = 0;
    out_ = nullptr;
}

void TaggedStreamParser::finish(StreamEvents & out) {
    if (finished_) {
        return;
    }
    out_ = &out;
    while (step(true)) {
    }
    buf_.clear();
    pos_ = 0;
    out_ = nullptr;
    finished_ = true;
}

}  // namespace pyllm::parse
