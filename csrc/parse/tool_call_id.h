// Ids the parser gives tool calls. Protocol prefixes (call_, toolu_) are the encoders' business.
#pragma once

#include <string>

namespace pyllm::parse {

// A fresh random id, 24 alphanumeric characters, generated once per call.
std::string new_tool_call_id();

}  // namespace pyllm::parse
