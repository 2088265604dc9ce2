#include "harmony_stream_parser.h"

#include <cctype>

#include "tool_call_id.h"
#include "literal_match.h"
#include "utf8_tail.h"

namespace pyllm::parse {

namespace {

constexpr std::string_view kChannel = "<|channel|>";
constexpr std::string_view kMessage = "<|message|>";
constexpr std::string_view kStart = "<|start|>assistant";
constexpr std::string_view kCall = "<|call|>";
constexpr std::string_view kEnd = "<|end|>";
constexpr std::string_view kToFunctions = " to=functions.";
constexpr std::string_view kTo = " to=";
// A header longer than this is not one (recipients and constraints are short identifiers).
constexpr size_t kLongestHeader = 512;

bool consume(std::string_view & text, std::string_view lit) {
    if (text.substr(0, lit.size()) != lit) {
        return false;
    }
    text.remove_prefix(lit.size());
    return true;
}

// `<|channel|>commentary` or `<|channel|>analysis`, the channels a call may use.
bool consume_call_channel(std::string_view & text) {
    return consume(text, kChannel) && (consume(text, "commentary") || consume(text, "analysis"));
}

// The optional `[space][<|constrain|>]json` after the recipient; true when it is all of `text`.
bool is_constraint(std::string_view text) {
    if (text.empty()) {
        return true;
    }
    while (!text.empty() && is_space(text[0])) {
        text.remove_prefix(1);
    }
    consume(text, "<|constrain|>");
    if (text.empty()) {
        return false;
    }
    for (const char c : text) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

// Whether `text` (the start of a header) may still become one.
bool may_be_header(std::string_view text) {
    for (const std::string_view opening : {kChannel, kTo}) {
        const size_t n = std::min(text.size(), opening.size());
        if (text.substr(0, n) == opening.substr(0, n)) {
            return true;
        }
    }
    return false;
}

}  // namespace

std::optional<HarmonyLayout> read_harmony_layout(const common_chat_params & params) {
    if (params.parser.empty() || params.thinking_start_tag != "<|channel|>analysis<|message|>" ||
        params.generation_prompt.size() < kStart.size() ||
        params.generation_prompt.compare(params.generation_prompt.size() - kStart.size(), kStart.size(), kStart) != 0) {
        return std::nullopt;
    }
    common_json root;
    try {
        root = common_json::parse(params.parser);
    } catch (const std::exception &) {
        return std::nullopt;
    }
    const auto & rules = root.at("rules");
    if (!rules.contains("analysis") || !rules.contains("final") || !rules.contains("start") ||
        rules.contains("response-format")) {
        return std::nullopt;
    }
    bool reasoning = false;
    for (const auto & p : root.at("parsers")) {
        reasoning = reasoning || (p.value("type", "") == "tag" && p.value("tag", "") == "reasoning");
    }
    if (!reasoning) {
        return std::nullopt;  // analysis kept as raw content, markers and all
    }
    return HarmonyLayout{rules.contains("tool-call")};
}

HarmonyStreamParser::HarmonyStreamParser(std::set<std::string> declared_tools) : declared_(std::move(declared_tools)) {}

bool HarmonyStreamParser::open_message(std::string_view header) {
    std::string_view h = header;
    // Plain channels, possibly after the stray "<|channel|>commentary[ to=assistant]" gpt-oss
    // sometimes emits in front of them.
    if (consume(h, "<|channel|>commentary") && !h.empty()) {
        consume(h, " to=assistant");
    } else {
        h = header;
    }
    if (h == "<|channel|>analysis" || h == "<|channel|>final") {
        body_ = h == "<|channel|>analysis" ? Body::reasoning : Body::final_content;
        state_ = State::body;
        return true;
    }
    if (header == "<|channel|>commentary") {
        body_ = Body::content;  // a preamble to the user
        state_ = State::body;
        return true;
    }
    // A message to a recipient: in the role (` to=R<|channel|>...`) or in the channel
    // (`<|channel|>... to=R...`).
    h = header;
    std::string_view recipient, after;
    if (consume(h, kTo)) {
        const size_t channel = h.find(kChannel);
        if (channel == std::string_view::npos) {
            return false;
        }
        recipient = h.substr(0, channel);
        after = h.substr(channel);
        if (!consume_call_channel(after)) {
            return false;
        }
    } else if (consume_call_channel(h) && consume(h, kTo)) {
        size_t end = 0;
        while (end < h.size() && !is_space(h[end]) && h[end] != '<') {
            ++end;
        }
        recipient = h.substr(0, end);
        after = h.substr(end);
    } else {
        return false;
    }
    std::string_view name = recipient;
    if (consume(name, kToFunctions.substr(kTo.size())) && declared_.count(std::string(name)) && is_constraint(after)) {
        out_->push_back({StreamEventKind::tool_call_start, {}, calls_, new_tool_call_id(), std::string(name)});
        arguments_end_.reset();
        arguments_started_ = false;
        state_ = State::tool_arguments;
        return true;
    }
    // Any other recipient (a builtin tool, an undeclared function): the reference drops the
    // message as unsolicited.
    body_ = Body::ignored;
    state_ = State::body;
    return true;
}

bool HarmonyStreamParser::step(bool at_end) {
    const std::string_view rest = std::string_view(buf_).substr(pos_);
    if (rest.empty()) {
        return false;
    }
    switch (state_) {
        case State::header: {
            const size_t end = rest.find(kMessage);
            if (end == std::string_view::npos) {
                if (!may_be_header(rest) || rest.size() > kLongestHeader) {
                    state_ = State::malformed;
                    return true;
                }
                // At the end, a cut-off header: the reference drops it.
                pos_ = at_end ? buf_.size() : pos_;
                return false;
            }
            if (!open_message(rest.substr(0, end))) {
                state_ = State::malformed;
                return true;
            }
            pos_ += end + kMessage.size();
            return true;
        }
        case State::body: {
            const auto m = message_end_.find(rest);
            size_t text_end = m.text_end;
            if (m.marker < 0 && !at_end) {
                text_end -= incomplete_utf8_tail(rest.substr(0, text_end));
            }
            if (body_ != Body::ignored) {
                emit_text(body_ == Body::reasoning ? StreamEventKind::reasoning : StreamEventKind::content,
                          rest.substr(0, text_end));
            }
            pos_ += text_end;
            if (m.marker < 0) {
                // At the end, a held-back tail is a cut-off <|end|>: the reference drops it.
                pos_ = at_end ? buf_.size() : pos_;
                return false;
            }
            pos_ += message_end_.marker(m.marker).size();
            // The reference reads nothing after the final message or an unsolicited one.
            state_ = body_ == Body::final_content || body_ == Body::ignored ? State::done : State::next_message;
            return true;
        }
        case State::next_message: {
            size_t n = 0;
            while (n < rest.size() && is_space(rest[n])) {
                ++n;
            }
            const std::string_view start = rest.substr(n);
            const size_t k = std::min(start.size(), kStart.size());
            if (start.substr(0, k) != kStart.substr(0, k)) {
                state_ = State::malformed;
                return true;
            }
            if (k < kStart.size()) {
                pos_ = at_end ? buf_.size() : pos_;  // cut off before the next message
                return false;
            }
            pos_ += n + kStart.size();
            state_ = State::header;
            return true;
        }
        case State::tool_arguments: {
            size_t n = 0;
            if (!arguments_started_) {
                while (n < rest.size() && is_space(rest[n])) {
                    ++n;
                }
                pos_ += n;
                if (n == rest.size()) {
                    return false;
                }
                arguments_started_ = true;
            }
            const std::string_view value = rest.substr(n);
            if (const size_t end = arguments_end_.scan(value); end != JsonValueEnd::npos) {
                out_->push_back({StreamEventKind::tool_args, std::string(value.substr(0, end)), calls_});
                out_->push_back({StreamEventKind::tool_call_end, {}, calls_});
                ++calls_;
                pos_ += end;
                state_ = State::after_call;
                return true;
            }
            // Cut off at the end: flush everything, the call stays open.
            const size_t keep = at_end ? 0 : incomplete_utf8_tail(value);
            if (value.size() > keep) {
                out_->push_back({StreamEventKind::tool_args, std::string(value.substr(0, value.size() - keep)), calls_});
            }
            pos_ += value.size() - keep;
            return false;
        }
        case State::after_call: {
            // The call's <|call|> (or the <|end|> some outputs close it with), if written.
            const size_t n = skip_space(rest, 0);
            for (const std::string_view end : {kCall, kEnd}) {
                const int r = match_literal(rest, n, end);
                if (r == 0 && !at_end) {
                    return false;
                }
                if (r == 1) {
                    pos_ += n + end.size();
                    break;
                }
            }
            state_ = State::next_message;
            return true;
        }
        case State::done:
            pos_ = buf_.size();
            return false;
        case State::malformed: {
            const size_t keep = at_end ? 0 : incomplete_utf8_tail(rest);
            emit_text(StreamEventKind::content, rest.substr(0, rest.size() - keep));
            pos_ += rest.size() - keep;
            return false;
        }
    }
    return false;
}

}  // namespace pyllm::parse
