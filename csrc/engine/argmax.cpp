#include "argmax.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace pyllm {

namespace {

// Floats ordered as integers: flipping the magnitude bits of negative values makes the
// integer order equal the float order (NaN aside), and an integer max reduction
// vectorizes without -ffast-math.
inline int32_t ordered(float f) {
    int32_t b;
    std::memcpy(&b, &f, sizeof b);
    return b ^ ((b >> 31) & 0x7fffffff);
}

}  // namespace

// Portable wheels are built for baseline x86-64; an AVX2 clone is picked at load time.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__APPLE__)
__attribute__((target_clones("avx2", "default")))
#endif
size_t argmax(const float * x, size_t n) {
    constexpr size_t lanes = 16;
    int32_t best_lane[lanes];
    std::fill(best_lane, best_lane + lanes, INT32_MIN);
    size_t i = 0;
    for (; i + lanes <= n; i += lanes) {
        for (size_t j = 0; j < lanes; j++) {
            const int32_t v = ordered(x[i + j]);
            best_lane[j] = v > best_lane[j] ? v : best_lane[j];
        }
    }
    int32_t best = *std::max_element(best_lane, best_lane + lanes);
    for (; i < n; i++) best = std::max(best, ordered(x[i]));
    // The first element equal to the maximum, as std::max_element returns it.
    const int32_t bits = best ^ ((best >> 31) & 0x7fffffff);  // the mapping is its own inverse
    float max_value;
    std::memcpy(&max_value, &bits, sizeof max_value);
    return static_cast<size_t>(std::find(x, x + n, max_value) - x);
}

}  // namespace pyllm
