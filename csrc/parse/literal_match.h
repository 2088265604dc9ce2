// Small matching helpers for call headers read from streamed text that may be cut off.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string_view>

namespace pyllm::parse {

inline bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

inline size_t skip_space(std::string_view text, size_t pos) {
    while (pos < text.size() && is_space(text[pos])) {
        ++pos;
    }
    return pos;
}

// 1: `text` at `pos` starts with `lit`; 0: it is cut off inside `lit`; -1: it does not match.
inline int match_literal(std::string_view text, size_t pos, std::string_view lit) {
    pos = std::min(pos, text.size());
    const size_t n = std::min(lit.size(), text.size() - pos);
    if (text.compare(pos, n, lit, 0, n) != 0) {
        return -1;
    }
    return n == lit.size() ? 1 : 0;
}

}  // namespace pyllm::parse
