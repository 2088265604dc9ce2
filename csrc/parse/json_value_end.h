// Finds where a streamed JSON object or array ends without parsing it, so the model's raw
// argument bytes can pass through as they arrive (nothing is re-serialized).
#pragma once

#include <cstddef>
#include <string_view>

namespace pyllm::parse {

class JsonValueEnd {
public:
    static constexpr size_t npos = std::string_view::npos;

    void reset() { *this = JsonValueEnd(); }

    // Scans the next bytes of the value (starting at its first byte). Returns how many bytes
    // of `text` complete the value, closing bracket included, or npos when it goes on.
    // Bytes of a multi-byte UTF-8 character change no state, so a caller may offer a held-back
    // incomplete character again.
    size_t scan(std::string_view text) {
        for (size_t i = 0; i < text.size(); ++i) {
            const char ch = text[i];
            if (in_string_) {
                if (escaped_) {
                    escaped_ = false;
                } else if (ch == '\\') {
                    escaped_ = true;
                } else if (ch == '"') {
                    in_string_ = false;
                }
                continue;
            }
            if (ch == '"') {
                in_string_ = true;
            } else if (ch == '{' || ch == '[') {
                ++depth_;
            } else if ((ch == '}' || ch == ']') && --depth_ <= 0) {
                return i + 1;
            }
        }
        return npos;
    }

private:
    int depth_ = 0;
    bool in_string_ = false;
    bool escaped_ = false;
};

}  // namespace pyllm::parse
