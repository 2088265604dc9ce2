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

std::string openai_error_payload(std::string_view message) {
    std::string out = "{\"error\":{\"message\":";
    append_json_string(out, message);
    out += ",\"type\":\"server_error\",\"param\":null,\"code\":null}}";
    return out;
}

}  // namespace pyllm::protocol
