#include "protocol/openai_json.h"

#include "protocol/json_string.h"

namespace pyllm::protocol {

void append_openai_usage(std::string & out, const OpenAIUsage & u) {
    out += "{\"prompt_tokens\":";
    out += std::to_string(u.prompt_tokens);
    out += ",\"completion_tokens\":";
    out += std::to_string(u.completion_tokens);
    out += ",\"total_tokens\":";
    out += std::to_string(u.prompt_tokens + u.completion_tokens);
    out += ",\"prompt_tokens_details\":{\"cached_tokens\":";
    out += std::to_string(u.cached_tokens);
    out += "}}";
}

std::string openai_object_head(std::string_view id, int64_t created, std::string_view model, std::string_view object) {
    std::string head = "{\"id\":";
    append_json_string(head, id);
    head += ",\"object\":";
    append_json_string(head, object);
    head += ",\"created\":";
    head += std::to_string(created);
    head += ",\"model\":";
    append_json_string(head, model);
    head += ",\"choices\":";
    return head;
}

std::string openai_error_payload(std::string_view message) {
    std::string out = "{\"error\":{\"message\":";
    append_json_string(out, message);
    out += ",\"type\":\"server_error\",\"param\":null,\"code\":null}}";
    return out;
}

std::string sse_data(std::string_view json) {
    std::string out;
    out.reserve(kSseDataPrefix.size() + json.size() + kSseEnd.size());
    out += kSseDataPrefix;
    out += json;
    out += kSseEnd;
    return out;
}

}  // namespace pyllm::protocol
