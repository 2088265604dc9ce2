#include "stop_matcher.h"

#include <algorithm>

namespace pyllm {

size_t incomplete_utf8_suffix(std::string_view text) {
    // Walk back over at most 3 continuation bytes to the lead byte of the last sequence.
    const size_t n = text.size();
    for (size_t back = 1; back <= std::min<size_t>(4, n); ++back) {
        const unsigned char c = static_cast<unsigned char>(text[n - back]);
        if ((c & 0xC0) == 0x80) continue;  // continuation byte
        size_t need = 1;
        if ((c & 0xE0) == 0xC0) need = 2;
        else if ((c & 0xF0) == 0xE0) need = 3;
        else if ((c & 0xF8) == 0xF0) need = 4;
        return need > back ? back : 0;
    }
    return 0;
}

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
    stops_.erase(std::remove_if(stops_.begin(), stops_.end(), [](const std::string & s) { return s.empty(); }),
                 stops_.end());
}

std::string StopMatcher::push(std::string_view piece) {
    if (stop_) return {};
    pending_.append(piece);

    // Earliest complete stop string in the unsent text. Text already sent cannot hold
    // one: every suffix that could begin a stop string was held back.
    size_t best = std::string::npos;
    for (const auto & s : stops_) {
        size_t pos = pending_.find(s);
        if (pos < best) {
            best = pos;
            stop_ = s;
        }
    }
    if (best != std::string::npos) {
        std::string out = pending_.substr(0, best);
        pending_.clear();
        return out;
    }

    // Hold back the longest suffix that is a proper prefix of some stop string.
    size_t hold = 0;
    for (const auto & s : stops_) {
        const size_t max_len = std::min(s.size() - 1, pending_.size());
        for (size_t len = max_len; len > hold; --len) {
            if (pending_.compare(pending_.size() - len, len, s, 0, len) == 0) {
                hold = len;
                break;
            }
        }
    }
    hold = std::max(hold, incomplete_utf8_suffix(pending_));
    std::string out = pending_.substr(0, pending_.size() - hold);
    pending_.erase(0, pending_.size() - hold);
    return out;
}

std::string StopMatcher::flush() {
    std::string out;
    out.swap(pending_);
    return out;
}

}  // namespace pyllm
