// Anthropic's tool search server tools (tool_search_tool_regex / tool_search_tool_bm25),
// run by the server when the model calls one: the deferred tools' catalog is searched and
// the matches come back as tool_reference names, which load those tools in the next turn.
#pragma once

#include <string>
#include <vector>

namespace pyllm::protocol {

class ToolSearch {
public:
    struct Entry {
        std::string name;
        std::string text;  // what is searched: name, description, argument names and descriptions
    };
    // The result of one search: tool names, or an Anthropic error_code with a message.
    struct Result {
        std::vector<std::string> names;
        std::string error_code;  // empty on success; "invalid_tool_input" for a bad query
        std::string error_message;
    };

    ToolSearch() = default;
    // {"tools": [{"name": N, "kind": "regex"|"bm25"}], "deferred": [{"name": N, "text": T}]};
    // an empty string is no tool search. Throws std::invalid_argument on malformed JSON.
    static ToolSearch from_json(const std::string & json);

    bool is_search_tool(const std::string & name) const;
    // Runs the search tool `name` on the call's arguments (JSON text).
    Result run(const std::string & name, const std::string & arguments) const;

    static constexpr size_t max_results = 5;

private:
    Result regex_search(const std::string & pattern) const;
    Result bm25_search(const std::string & query) const;

    std::vector<std::pair<std::string, bool>> tools_;  // (name, is regex)
    std::vector<Entry> deferred_;
};

}  // namespace pyllm::protocol
