// Streamed text may end inside a multi-byte UTF-8 character; deltas never split one.
#pragma once

#include <cstddef>
#include <string_view>

namespace pyllm::parse {

// Bytes at the end of `text` that begin a UTF-8 character the text does not complete.
inline size_t incomplete_utf8_tail(std::string_view text) {
    const size_t n = text.size();
    for (size_t back = 1; back <= 3 && back <= n; ++back) {
        const auto c = static_cast<unsigned char>(text[n - back]);
        if ((c & 0xC0) == 0x80) {
            continue;  // continuation byte: look further back for the lead byte
        }
        const size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        return need > back ? back : 0;
    }
    return 0;
}

}  // namespace pyllm::parse
