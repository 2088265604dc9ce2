// Hand-written JSON for the Anthropic encoder's per-token frames: a JSON library object per
// delta costs more than the delta. Only strings need care; the rest is literal text.
#pragma once

#include <string>
#include <string_view>

namespace pyllm::protocol {

// Appends `text` as a quoted JSON string. Bytes that are not valid UTF-8 become U+FFFD, so
// the output is always valid JSON whatever the model produced.
void append_json_string(std::string & out, std::string_view text);

inline std::string json_string(std::string_view text) {
    std::string out;
    append_json_string(out, text);
    return out;
}

}  // namespace pyllm::protocol
