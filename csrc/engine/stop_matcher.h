// Turns a task's token pieces into text that is safe to send: an incomplete UTF-8
// sequence is held back until it completes, and so is any suffix that could still grow
// into a stop string. A stop string is never emitted, not even partially.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pyllm {

class StopMatcher {
public:
    explicit StopMatcher(std::vector<std::string> stops);

    // Appends one token's text; returns what can be sent now. Once a stop string is
    // matched, returns the text before it and stop() names the match.
    std::string push(std::string_view piece);
    // End of generation without a stop match: everything held back is released.
    std::string flush();
    const std::optional<std::string> & stop() const { return stop_; }

private:
    std::vector<std::string> stops_;
    std::string pending_;  // text received but not yet sent
    std::optional<std::string> stop_;
};

// Bytes at the end of text that start a UTF-8 sequence not yet complete (0..3).
size_t incomplete_utf8_suffix(std::string_view text);

}  // namespace pyllm
