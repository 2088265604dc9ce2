#include "tool_call_id.h"

#include <random>

namespace pyllm::parse {

std::string new_tool_call_id() {
    static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    thread_local std::mt19937_64 rng{std::random_device{}()};
    std::uniform_int_distribution<size_t> pick(0, sizeof alphabet - 2);
    std::string id(24, '\0');
    for (auto & c : id) {
        c = alphabet[pick(rng)];
    }
    return id;
}

}  // namespace pyllm::parse
