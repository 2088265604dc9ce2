// Python's handle on an output processor made for one request but not yet submitted;
// Engine.submit takes the processor over, so a handle serves exactly one task.
#pragma once

#include <memory>

#include "engine/task.h"

namespace pyllm::protocol {

struct ProcessorHandle {
    std::unique_ptr<OutputProcessor> processor;
};

}  // namespace pyllm::protocol
