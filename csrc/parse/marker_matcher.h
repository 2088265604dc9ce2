// Finds the next marker (a literal such as "</think>" or "<tool_call>") in streamed text,
// telling apart a full marker, a tail that could still become one, and plain text.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace pyllm::parse {

class MarkerMatcher {
public:
    MarkerMatcher() = default;
    explicit MarkerMatcher(std::vector<std::string> markers);

    struct Match {
        size_t text_end;  // bytes before the marker (or before the held-back tail) are plain text
        int marker;       // index of the marker found at text_end, or -1 when none is complete
    };

    // Scans `text` once. With no complete marker, text_end stops before the longest tail of
    // `text` that is a proper prefix of some marker: that tail must be held back until more
    // text (or the end of the stream) decides it.
    Match find(std::string_view text) const;

    const std::string & marker(int i) const { return markers_[static_cast<size_t>(i)]; }
    size_t longest() const { return longest_; }
    bool empty() const { return markers_.empty(); }

private:
    std::vector<std::string> markers_;
    std::array<bool, 256> first_byte_{};
    size_t longest_ = 0;
};

}  // namespace pyllm::parse
