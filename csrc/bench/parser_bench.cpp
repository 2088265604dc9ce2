#include "bench/parser_bench.h"

#include <chrono>

#include "parse/reference_parser.h"

namespace pyllm::parse {

namespace {
using clock = std::chrono::steady_clock;

double seconds_since(clock::time_point start) {
    return std::chrono::duration<double>(clock::now() - start).count();
}
}  // namespace

double time_stream_parser(const common_chat_params & params, const std::vector<common_chat_tool> & tools,
                          const StreamParserOptions & options, const std::vector<std::string> & pieces) {
    StreamParser parser(params, tools, options);
    size_t n_events = 0;
    const auto start = clock::now();
    for (const auto & piece : pieces) {
        n_events += parser.feed(piece).size();
    }
    n_events += parser.finish().size();
    const double elapsed = seconds_since(start);
    // Keeps the work observable so it cannot be optimised away.
    volatile size_t sink = n_events;
    (void) sink;
    return elapsed;
}

double time_server_reparse(const common_chat_params & params, bool extract_reasoning,
                           const std::vector<std::string> & pieces) {
    const auto parser_params = reference_parser_params(params, extract_reasoning);
    std::string generated;
    common_chat_msg previous;
    std::vector<std::string> ids;
    size_t n_diffs = 0;
    const auto start = clock::now();
    for (size_t i = 0; i < pieces.size(); ++i) {
        generated += pieces[i];
        const bool is_partial = i + 1 < pieces.size();
        auto msg = reference_parse(generated, is_partial, parser_params);
        if (!msg.empty()) {
            msg.set_tool_call_ids(ids, [] { return std::string("call_0123456789abcdef"); });
            n_diffs += common_chat_msg_diff::compute_diffs(previous, msg).size();
            previous = std::move(msg);
        }
    }
    const double elapsed = seconds_since(start);
    volatile size_t sink = n_diffs;
    (void) sink;
    return elapsed;
}

}  // namespace pyllm::parse
