// The body of an OpenAI /v1/embeddings response, written in one pass over the vectors:
// a float per element is formatted natively (shortest text that reads back as the same
// float32), never as a Python float.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pyllm::protocol {

// `{"object":"list","data":[{"object":"embedding","index":i,"embedding":...},...],"model":..,
// "usage":{"prompt_tokens":..,"total_tokens":..}}` for `vectors`, row-major [n_rows, n_dims].
// With `base64` each embedding is the base64 of its little-endian float32 bytes (what the
// OpenAI SDKs decode), else an array of numbers (a non-finite element is written as null).
std::string openai_embeddings_body(const float * vectors, int64_t n_rows, int64_t n_dims, bool base64,
                                   std::string_view model, int64_t prompt_tokens);

}  // namespace pyllm::protocol
