// Timings for `python -m pyllm.bench parser`, taken natively so Python is not measured. Part
// of the pyllm._bench module, kept out of _core (the module a server loads).
#pragma once

#include <string>
#include <vector>

#include "chat.h"
#include "parse/stream_parser.h"

namespace pyllm::parse {

// Seconds to feed every piece to a fresh StreamParser and finish it.
double time_stream_parser(const common_chat_params & params, const std::vector<common_chat_tool> & tools,
                          const StreamParserOptions & options, const std::vector<std::string> & pieces);

// Seconds for llama.cpp's server path over the same pieces: after each piece,
// common_chat_parse of the whole accumulated text, tool call ids, compute_diffs.
double time_server_reparse(const common_chat_params & params, bool extract_reasoning,
                           const std::vector<std::string> & pieces);

}  // namespace pyllm::parse
