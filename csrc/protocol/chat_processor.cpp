#include "protocol/chat_processor.h"

namespace pyllm::protocol {

ChatProcessor::ChatProcessor(parse::StreamParser parser, std::unique_ptr<StreamEncoder> encoder)
    : parser_(std::move(parser)), encoder_(std::move(encoder)) {}

void ChatProcessor::on_start(const Usage & usage, std::vector<std::string> & out) { encoder_->start(usage, out); }

void ChatProcessor::on_text(std::string_view text, std::vector<std::string> & out) {
    for (const auto & event : parser_.feed(text)) encoder_->on_event(event, out);
}

void ChatProcessor::on_finish(const FinishInfo & info, std::vector<std::string> & out) {
    for (const auto & event : parser_.finish()) encoder_->on_event(event, out);
    encoder_->finish(info, out);
}

}  // namespace pyllm::protocol
