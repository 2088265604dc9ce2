// Hand-written JSON for the OpenAI encoders: they write a few fixed-shape objects per
// token, where building a JSON tree and dumping it would cost more than the token.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/json_string.h"

namespace pyllm::protocol {

struct OpenAIUsage {
    int32_t prompt_tokens = 0;
    int32_t cached_tokens = 0;
    int32_t completion_tokens = 0;
};

// `{"prompt_tokens":..,"completion_tokens":..,"total_tokens":..,"prompt_tokens_details":{"cached_tokens":..}}`
void append_openai_usage(std::string & out, const OpenAIUsage & usage);

// `{"id":..,"object":..,"created":..,"model":..,"choices":`: the constant start of every
// chunk (or object) of one response.
std::string openai_object_head(std::string_view id, int64_t created, std::string_view model, std::string_view object);

// `{"error":{"message":..,"type":"server_error","param":null,"code":null}}`: a failure after
// the response began (the HTTP status is already sent for streams).
std::string openai_error_payload(std::string_view message);

// Server-sent events as OpenAI streams them: `data: <json>\n\n` per chunk, `data: [DONE]\n\n` last.
inline constexpr std::string_view kSseDataPrefix = "data: ";
inline constexpr std::string_view kSseEnd = "\n\n";
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";
std::string sse_data(std::string_view json);

}  // namespace pyllm::protocol
