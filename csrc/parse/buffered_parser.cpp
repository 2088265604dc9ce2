#include "buffered_parser.h"

namespace pyllm::parse {

void BufferedParser::feed(std::string_view text, StreamEvents & out) {
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

void BufferedParser::finish(StreamEvents & out) {
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

void BufferedParser::emit_text(StreamEventKind kind, std::string_view text) {
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

}  // namespace pyllm::parse
