// Host memory for the prompt cache: idle slots' sequence state (saved when they leave the
// context) and context checkpoints (the part of a sequence's state that cannot be cut back to
// a prefix: recurrent layers, sliding windows), under one byte limit, least recently used
// dropped first. Pure bookkeeping: the engine copies states in and out of llama.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <vector>

#include "llama.h"

namespace pyllm {

// The partial state (LLAMA_STATE_SEQ_FLAGS_PARTIAL_ONLY) of a sequence after its first
// n_tokens tokens: restoring it and cutting the rest of the memory back to n_tokens gives the
// sequence exactly as it was then.
struct Checkpoint {
    size_t n_tokens = 0;
    std::vector<uint8_t> state;
};

// A slot's checkpoints, oldest position first.
using Checkpoints = std::vector<Checkpoint>;

struct SavedPrompt {
    std::vector<llama_token> tokens;
    std::vector<uint8_t> state;  // the whole sequence (all of `tokens`)
    Checkpoints checkpoints;     // taken while it was in a slot; travel with it
    int64_t bytes() const;
};

int64_t checkpoint_bytes(const Checkpoints & checkpoints);

size_t common_prefix(const std::vector<llama_token> & a, const std::vector<llama_token> & b);

class PromptCache {
public:
    // limit_bytes < 0: no limit.
    explicit PromptCache(int64_t limit_bytes) : limit_(limit_bytes) {}

    int64_t limit() const { return limit_; }
    bool fits(int64_t bytes) const { return limit_ < 0 || bytes <= limit_; }

    // Keeps `prompt` (supersedes saved prefixes of it), then drops the least recently used
    // entries until everything held, `in_slots` bytes of slot checkpoints included, fits.
    void put(SavedPrompt prompt, int64_t in_slots);
    // Drops least recently used entries until `in_slots` more bytes fit; false when even an
    // empty cache would not make room.
    bool make_room(int64_t in_slots);
    // Takes out the entry sharing the longest prefix with `prompt`, when that is longer than
    // `better_than` and more than a tenth of the prompt.
    std::optional<SavedPrompt> take_best(const std::vector<llama_token> & prompt, size_t better_than);

    int entries() const { return static_cast<int>(saved_.size()); }
    int64_t bytes() const { return bytes_; }
    int checkpoints() const;
    int64_t checkpoint_bytes() const;

private:
    int64_t limit_;
    std::list<SavedPrompt> saved_;  // least recently used first
    int64_t bytes_ = 0;
};

}  // namespace pyllm
