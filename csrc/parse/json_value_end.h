// Finds where a streamed JSON object or array ends without parsing it, so the model's raw
// argument bytes can pass through as they arrive (nothing is re-serialized).
#pragma once

#include <cstddef>
#include <string_view>

#include "utf8_tail.h"

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

    struct Passed {
        size_t used;  // bytes of `value` consumed (given to `emit`)
        bool ended;   // the value closed within them
    };
    // Streams the value's next bytes: `emit` gets everything up to its end, or, while it goes
    // on, everything but a held-back incomplete UTF-8 character (flushed too when `at_end`).
    template <class Emit> Passed pass_through(std::string_view value, bool at_end, Emit && emit) {
        if (const size_t n = scan(value); n != npos) {
            emit(value.substr(0, n));
            return {n, true};
        }
        const size_t used = value.size() - (at_end ? 0 : incomplete_utf8_tail(value));
        emit(value.substr(0, used));
        return {used, false};
    }

private:
    int depth_ = 0;
    bool in_string_ = false;
    bool escaped_ = false;
};

}  // namespace pyllm::parse
