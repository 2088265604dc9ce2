#include "prompt_cache.h"

#include <algorithm>

namespace pyllm {

size_t common_prefix(const std::vector<llama_token> & a, const std::vector<llama_token> & b) {
    const size_t n = std::min(a.size(), b.size());
    size_t i = 0;
    while (i < n && a[i] == b[i]) ++i;
    return i;
}

int64_t checkpoint_bytes(const Checkpoints & checkpoints) {
    int64_t n = 0;
    for (const auto & c : checkpoints) n += static_cast<int64_t>(c.state.size());
    return n;
}

int64_t SavedPrompt::bytes() const {
    return static_cast<int64_t>(state.size()) + checkpoint_bytes(checkpoints);
}

void PromptCache::put(SavedPrompt prompt, int64_t in_slots) {
    // An earlier copy of a prefix of this prompt is superseded by it.
    saved_.remove_if([&](const SavedPrompt & old) {
        const bool prefix = old.tokens.size() <= prompt.tokens.size() &&
                            std::equal(old.tokens.begin(), old.tokens.end(), prompt.tokens.begin());
        if (prefix) bytes_ -= old.bytes();
        return prefix;
    });
    bytes_ += prompt.bytes();
    saved_.push_back(std::move(prompt));
    make_room(in_slots);
}

bool PromptCache::make_room(int64_t in_slots) {
    if (limit_ < 0) return true;
    while (!saved_.empty() && bytes_ + in_slots > limit_) {
        bytes_ -= saved_.front().bytes();
        saved_.pop_front();
    }
    return bytes_ + in_slots <= limit_;
}

std::optional<SavedPrompt> PromptCache::take_best(const std::vector<llama_token> & prompt, size_t better_than) {
    auto best = saved_.end();
    size_t best_prefix = better_than;
    for (auto it = saved_.begin(); it != saved_.end(); ++it) {
        const size_t p = common_prefix(it->tokens, prompt);
        if (p > best_prefix) {
            best = it;
            best_prefix = p;
        }
    }
    if (best == saved_.end() || best_prefix * 10 <= prompt.size()) return std::nullopt;
    SavedPrompt taken = std::move(*best);
    bytes_ -= taken.bytes();
    saved_.erase(best);
    return taken;
}

int PromptCache::checkpoints() const {
    int n = 0;
    for (const auto & s : saved_) n += static_cast<int>(s.checkpoints.size());
    return n;
}

int64_t PromptCache::checkpoint_bytes() const {
    int64_t n = 0;
    for (const auto & s : saved_) n += pyllm::checkpoint_bytes(s.checkpoints);
    return n;
}

}  // namespace pyllm
