#include "tagged_stream_parser.h"

#include <algorithm>
#include <utility>

#include "literal_match.h"
#include "tool_call_id.h"
#include "utf8_tail.h"

namespace pyllm::parse {

namespace {
// Stray text longer than this inside a section is text after the calls, not noise.
constexpr size_t longest_skipped_text = 256;
}  // namespace

TaggedStreamParser::TaggedStreamParser(const ChatLayout & layout, std::unique_ptr<ToolCallSyntax> tool_calls,
                                       CallSection section)
    : state_(layout.skip_leading_space ? State::leading_space : State::reasoning_probe),
      reasoning_(layout.reasoning),
      space_before_content_(layout.space_before_content),
      section_(std::move(section)),
      tool_calls_(std::move(tool_calls)) {
    if (reasoning_) {
        std::vector<std::string> ends{reasoning_->end};
        ends.insert(ends.end(), reasoning_->stop_before.begin(), reasoning_->stop_before.end());
        reasoning_end_ = MarkerMatcher(std::move(ends));
    }
    if (tool_calls_) {
        std::vector<std::string> starts = layout.content_until;
        dropped_from_ = starts.size();
        starts.insert(starts.end(), layout.content_dropped.begin(), layout.content_dropped.end());
        call_start_ = MarkerMatcher(std::move(starts));
        std::vector<std::string> next = section_.next_call.empty() ? layout.content_until : section_.next_call;
        section_ends_ = next.size();
        next.insert(next.end(), section_.end.begin(), section_.end.end());
        next_call_ = MarkerMatcher(std::move(next));
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

void TaggedStreamParser::enter(const std::string & marker, size_t skipped, std::string given_back) {
    pos_ += skipped + marker.size();
    section_closed_ = false;
    if (std::find(section_.start.begin(), section_.start.end(), marker) != section_.start.end()) {
        unproven_section_ = marker;
        state_ = State::between_calls;
        return;
    }
    tool_calls_->begin(marker);
    call_marker_ = std::move(given_back.append(marker));
    state_ = State::tool_call;
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
            const size_t n = skip_space(rest, 0);
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
            bool may_open = false;
            for (size_t t = 0; t <= reasoning_->other_tags.size(); ++t) {
                const std::string & tag = t == 0 ? reasoning_->start : reasoning_->other_tags[t - 1].first;
                const size_t n = std::min(tag.size(), rest.size());
                if (rest.compare(0, n, tag, 0, n) != 0) {
                    continue;
                }
                if (n < tag.size()) {
                    may_open = true;
                    continue;
                }
                pos_ += tag.size();
                if (t > 0) {
                    // Reasoning opened with another tag pair: it ends at that pair's end tag.
                    std::vector<std::string> ends{reasoning_->other_tags[t - 1].second};
                    ends.insert(ends.end(), reasoning_->stop_before.begin(), reasoning_->stop_before.end());
                    reasoning_end_ = MarkerMatcher(std::move(ends));
                    reasoning_->start_optional.clear();
                    reasoning_->end_optional.clear();
                }
                optional_matched_ = 0;
                state_ = State::reasoning_start_space;
                return true;
            }
            if (may_open && !at_end) {
                return false;
            }
            state_ = space_before_content_ ? State::content_space : State::content;
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
            if (start && reasoning_->start_space && is_space(rest[0])) {
                ++pos_;
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
            // A stop_before marker (index > 0) is left for the content to read; the optional
            // characters only follow the end tag.
            const bool end_tag = m.marker == 0;
            pos_ += end_tag ? reasoning_end_.marker(m.marker).size() : 0;
            reasoning_space_.clear();
            optional_matched_ = end_tag ? 0 : reasoning_->end_optional.size();
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
            if (static_cast<size_t>(m.marker) >= dropped_from_) {
                pos_ += call_start_.marker(m.marker).size();
                return true;
            }
            enter(call_start_.marker(m.marker), 0, {});
            return true;
        }
        case State::tool_call: {
            const auto r = tool_calls_->consume(rest, at_end, *this);
            pos_ += r.consumed;
            switch (r.status) {
                case ToolCallSyntax::Status::more:
                    return false;
                case ToolCallSyntax::Status::done:
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
            size_t n = skip_space(rest, 0);
            if (n == rest.size()) {
                if (at_end) {
                    pos_ += n;  // trailing whitespace after the last call is not content
                }
                return false;
            }
            if (!section_.separator.empty() && rest.compare(n, section_.separator.size(), section_.separator) == 0) {
                n = skip_space(rest, n + section_.separator.size());
                if (n == rest.size()) {
                    pos_ += at_end ? n : 0;  // a separator the output ended after: the reference drops it
                    return false;
                }
            }
            const MarkerMatcher & next = section_closed_ ? call_start_ : next_call_;
            const auto m = next.find(rest.substr(n));
            if (section_.skip_text_in_section && !section_closed_ && m.text_end > 0) {
                if (m.marker >= 0 && m.text_end <= longest_skipped_text) {
                    pos_ += n + m.text_end;
                    return true;
                }
                if (m.marker < 0 && rest.size() - n <= longest_skipped_text && !at_end) {
                    return false;  // may still be followed by a marker
                }
            }
            if (m.text_end == 0 && m.marker >= 0 && &next == &call_start_ &&
                static_cast<size_t>(m.marker) >= dropped_from_) {
                pos_ += n + next.marker(m.marker).size();
                return true;
            }
            if (m.text_end == 0 && m.marker >= 0) {
                const std::string & marker = next.marker(m.marker);
                const bool section_end = &next == &next_call_ && static_cast<size_t>(m.marker) >= section_ends_;
                if (!section_end) {
                    enter(marker, n, std::exchange(unproven_section_, {}).append(rest.substr(0, n)));
                    return true;
                }
                // A closed section ends here, an empty one included: a section no call
                // follows would otherwise leak its markers into the content.
                unproven_section_.clear();
                pos_ += n + marker.size();
                section_closed_ = true;
                return true;
            } else if (m.text_end == 0 && !at_end) {
                return false;  // may still become another call
            } else if (m.text_end == 0 && !unproven_section_.empty()) {
                pos_ = buf_.size();  // a cut-off section start: the reference drops it
                return false;
            }
            // Text after the calls: llama.cpp's parser rejects it; it is kept as content.
            emit_text(StreamEventKind::content, std::exchange(unproven_section_, {}));
            state_ = State::content;
            return true;
        }
    }
    return false;
}

}  // namespace pyllm::parse
