// Greedy decoding's arg-max over a whole vocabulary (262k logits for Gemma 3, once per
// token per sequence): std::max_element does not vectorize and costs about as much as
// the whole difference between the engine and llama-batched-bench.
#pragma once

#include <cstddef>

namespace pyllm {

// Index of the first largest value of x[0..n) (as std::max_element; n > 0, no NaN).
size_t argmax(const float * x, size_t n);

}  // namespace pyllm
