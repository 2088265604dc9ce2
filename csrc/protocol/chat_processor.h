// The per-task output processor for chat requests: token text goes through the request's
// StreamParser, and its events through the request's protocol encoder, all on the engine
// thread. Python receives finished payloads only.
#pragma once

#include <memory>

#include "engine/task.h"
#include "parse/stream_parser.h"
#include "protocol/stream_encoder.h"

namespace pyllm::protocol {

class ChatProcessor : public OutputProcessor {
public:
    ChatProcessor(parse::StreamParser parser, std::unique_ptr<StreamEncoder> encoder);

    void on_start(const Usage & usage, std::vector<std::string> & out) override;
    void on_text(std::string_view text, std::vector<std::string> & out) override;
    void on_finish(const FinishInfo & info, std::vector<std::string> & out) override;

private:
    parse::StreamParser parser_;
    std::unique_ptr<StreamEncoder> encoder_;
};

}  // namespace pyllm::protocol
