// A protocol encoder turns one request's parser events into the payloads its client
// receives (OpenAI chunks, Anthropic SSE events, ...). One object per request owns all of
// the protocol's block state, so per-block rules (one start per block, indices in order)
// hold by construction.
#pragma once

#include <string>
#include <vector>

#include "engine/task.h"
#include "parse/stream_event.h"

namespace pyllm::protocol {

class StreamEncoder {
public:
    virtual ~StreamEncoder() = default;
    // The task got a slot: prompt and cached token counts are known.
    virtual void start(const Usage & usage, std::vector<std::string> & out) = 0;
    virtual void on_event(const parse::StreamEvent & event, std::vector<std::string> & out) = 0;
    // Generation ended; every parser event has been delivered.
    virtual void finish(const FinishInfo & info, std::vector<std::string> & out) = 0;
};

}  // namespace pyllm::protocol
