// JSON string literals written by hand: the encoders write a few fixed-shape objects per
// token, where building a JSON tree and dumping it would cost more than the token.
#pragma once

#include <string>
#include <string_view>

namespace pyllm::protocol {

// Appends `text` as a JSON string literal (quotes included). Invalid UTF-8 becomes U+FFFD,
// so a byte-level model output can never produce a payload the client fails to parse.
void append_json_string(std::string & out, std::string_view text);

inline std::string json_string(std::string_view text) {
    std::string out;
    append_json_string(out, text);
    return out;
}

}  // namespace pyllm::protocol
