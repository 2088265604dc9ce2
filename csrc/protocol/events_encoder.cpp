#include "protocol/events_encoder.h"

#include "json.h"

namespace pyllm::protocol {

namespace {
common_json usage_json(const Usage & u) {
    common_json j = common_json::object();
    j["prompt_tokens"] = u.prompt_tokens;
    j["cached_tokens"] = u.cached_tokens;
    j["completion_tokens"] = u.completion_tokens;
    return j;
}
}  // namespace

void EventsEncoder::start(const Usage & usage, std::vector<std::string> & out) {
    common_json j = common_json::object();
    j["type"] = "start";
    j["usage"] = usage_json(usage);
    out.push_back(j.dump());
}

void EventsEncoder::on_event(const parse::StreamEvent & event, std::vector<std::string> & out) {
    common_json j = common_json::object();
    j["type"] = parse::stream_event_kind_name(event.kind);
    switch (event.kind) {
        case parse::StreamEventKind::reasoning:
        case parse::StreamEventKind::content:
            j["text"] = event.text;
            break;
        case parse::StreamEventKind::tool_call_start:
            j["index"] = event.index;
            j["id"] = event.id;
            j["name"] = event.name;
            break;
        case parse::StreamEventKind::tool_args:
            j["index"] = event.index;
            j["text"] = event.text;
            break;
        case parse::StreamEventKind::tool_call_end:
            j["index"] = event.index;
            break;
    }
    out.push_back(j.dump_safe());
}

void EventsEncoder::finish(const FinishInfo & info, std::vector<std::string> & out) {
    common_json j = common_json::object();
    j["type"] = "finish";
    j["finish_reason"] = finish_reason_name(info.reason);
    if (!info.stop_sequence.empty()) j["stop_sequence"] = info.stop_sequence;
    if (!info.error.empty()) j["error"] = info.error;
    j["usage"] = usage_json(info.usage);
    out.push_back(j.dump_safe());
}

}  // namespace pyllm::protocol
