#include "marker_matcher.h"

#include <algorithm>

namespace pyllm::parse {

MarkerMatcher::MarkerMatcher(std::vector<std::string> markers) : markers_(std::move(markers)) {
    markers_.erase(std::remove(markers_.begin(), markers_.end(), std::string()), markers_.end());
    for (const auto & m : markers_) {
        first_byte_[static_cast<unsigned char>(m[0])] = true;
        longest_ = std::max(longest_, m.size());
    }
}

MarkerMatcher::Match MarkerMatcher::find(std::string_view text) const {
    const size_t n = text.size();
    for (size_t i = 0; i < n; ++i) {
        if (!first_byte_[static_cast<unsigned char>(text[i])]) {
            continue;
        }
        const std::string_view rest = text.substr(i);
        bool could_continue = false;
        for (size_t m = 0; m < markers_.size(); ++m) {
            const std::string & marker = markers_[m];
            if (rest.size() >= marker.size()) {
                if (rest.compare(0, marker.size(), marker) == 0) {
                    return {i, static_cast<int>(m)};
                }
            } else if (marker.compare(0, rest.size(), rest) == 0) {
                could_continue = true;
            }
        }
        if (could_continue) {
            // The tail from here may still become a marker (which would also cover any marker
            // starting later), so hold it back. Tails are shorter than the longest marker:
            // the scan stays O(text + longest marker).
            return {i, -1};
        }
    }
    return {n, -1};
}

}  // namespace pyllm::parse
