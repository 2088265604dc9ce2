// Raw text written as the inside of a JSON string, as it streams.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace pyllm::parse {

// The inside of a JSON string literal, as nlohmann::json::dump writes it (the reference's
// escaping): the two-character escapes, other control characters as \u00xx, UTF-8 as is.
inline void append_json_escaped(std::string & out, std::string_view text) {
    for (const char ch : text) {
        switch (ch) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(ch) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(ch));
                    out += buf;
                } else {
                    out += ch;
                }
        }
    }
}

}  // namespace pyllm::parse
