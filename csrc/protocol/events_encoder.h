// The library's own encoding: every parser event and the finish as one JSON object per
// payload. pyllm.Engine.chat() yields these; the HTTP APIs have their own encoders.
#pragma once

#include "protocol/stream_encoder.h"

namespace pyllm::protocol {

class EventsEncoder : public StreamEncoder {
public:
    void start(const Usage & usage, std::vector<std::string> & out) override;
    void on_event(const parse::StreamEvent & event, std::vector<std::string> & out) override;
    void finish(const FinishInfo & info, std::vector<std::string> & out) override;
};

}  // namespace pyllm::protocol
