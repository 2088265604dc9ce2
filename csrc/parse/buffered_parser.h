// The driver the native FormatParsers share: fed text is appended to a buffer and a state
// machine (step) consumes it from pos_; what it cannot decide yet (a tail that may still
// become a marker) stays in the buffer for the next feed.
#pragma once

#include <string>
#include <string_view>

#include "stream_parser.h"

namespace pyllm::parse {

class BufferedParser : public FormatParser {
public:
    void feed(std::string_view text, StreamEvents & out) final;
    void finish(StreamEvents & out) final;

protected:
    // Runs the state machine over buf_[pos_..]; returns false when it must wait for more.
    virtual bool step(bool at_end) = 0;
    // Reasoning or content text; joins the previous event when that is of the same kind.
    void emit_text(StreamEventKind kind, std::string_view text);

    std::string buf_;
    size_t pos_ = 0;
    StreamEvents * out_ = nullptr;  // where step() writes, set for the call

private:
    bool finished_ = false;
};

}  // namespace pyllm::parse
