// Recognises, from a request's chat parameters, the output formats that have a native
// module, and builds that module. Everything else is left to the reference parser.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chat.h"
#include "stream_parser.h"

namespace pyllm::parse {

struct NativeParser {
    std::unique_ptr<FormatParser> parser;
    std::string family;
};

std::optional<NativeParser> make_native_parser(const common_chat_params & params,
                                               const std::vector<common_chat_tool> & tools);

}  // namespace pyllm::parse
