#include "protocol/tool_search.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <regex>
#include <stdexcept>

#include "json.h"

namespace pyllm::protocol {

namespace {

std::vector<std::string> words(const std::string & text) {
    std::vector<std::string> out;
    std::string word;
    for (char c : text + " ") {
        if (std::isalnum(static_cast<unsigned char>(c))) {
            word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        } else if (!word.empty()) {
            out.push_back(std::move(word));
            word.clear();
        }
    }
    return out;
}

}  // namespace

ToolSearch ToolSearch::from_json(const std::string & json) {
    ToolSearch search;
    if (json.empty()) return search;
    try {
        const auto value = common_json::parse(json);
        for (const auto & tool : value.at("tools")) {
            search.tools_.emplace_back(tool.at("name").get<std::string>(), tool.at("kind").get<std::string>() == "regex");
        }
        for (const auto & entry : value.at("deferred")) {
            search.deferred_.push_back({entry.at("name").get<std::string>(), entry.at("text").get<std::string>()});
        }
    } catch (const std::exception & e) {
        throw std::invalid_argument(std::string("invalid tool search catalog: ") + e.what());
    }
    return search;
}

bool ToolSearch::is_search_tool(const std::string & name) const {
    return std::any_of(tools_.begin(), tools_.end(), [&](const auto & t) { return t.first == name; });
}

ToolSearch::Result ToolSearch::run(const std::string & name, const std::string & arguments) const {
    const auto tool = std::find_if(tools_.begin(), tools_.end(), [&](const auto & t) { return t.first == name; });
    const char * field = tool->second ? "pattern" : "query";
    std::string query;
    try {
        query = common_json::parse(arguments).at(field).get<std::string>();
    } catch (const std::exception &) {
        return {{}, "invalid_tool_input", std::string("expected a string '") + field + "'"};
    }
    return tool->second ? regex_search(query) : bm25_search(query);
}

ToolSearch::Result ToolSearch::regex_search(const std::string & pattern) const {
    // Python's re syntax, as the model writes it for Anthropic's tool; ECMAScript covers the
    // common part, and the inline case-insensitive flag becomes std::regex's icase.
    if (pattern.size() > 200) return {{}, "invalid_tool_input", "the pattern is longer than 200 characters"};
    std::string source = pattern;
    auto flags = std::regex::ECMAScript;
    if (source.rfind("(?i)", 0) == 0) {
        source = source.substr(4);
        flags |= std::regex::icase;
    }
    std::regex re;
    try {
        re = std::regex(source, flags);
    } catch (const std::regex_error & e) {
        return {{}, "invalid_tool_input", std::string("invalid regular expression: ") + e.what()};
    }
    Result result;
    for (const auto & entry : deferred_) {
        if (result.names.size() == max_results) break;
        if (std::regex_search(entry.name, re) || std::regex_search(entry.text, re)) result.names.push_back(entry.name);
    }
    return result;
}

ToolSearch::Result ToolSearch::bm25_search(const std::string & query) const {
    // Okapi BM25 (k1 1.2, b 0.75) over the deferred tools' words.
    constexpr double k1 = 1.2, b = 0.75;
    std::vector<std::vector<std::string>> docs;
    std::map<std::string, int> doc_freq;
    double total_len = 0;
    for (const auto & entry : deferred_) {
        docs.push_back(words(entry.name + " " + entry.text));
        total_len += static_cast<double>(docs.back().size());
        std::vector<std::string> unique = docs.back();
        std::sort(unique.begin(), unique.end());
        unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
        for (const auto & w : unique) ++doc_freq[w];
    }
    const double n = static_cast<double>(docs.size());
    const double avg_len = docs.empty() ? 1 : std::max(1.0, total_len / n);
    std::vector<std::pair<double, size_t>> scored;
    const auto terms = words(query);
    for (size_t i = 0; i < docs.size(); ++i) {
        double score = 0;
        for (const auto & term : terms) {
            const auto df = doc_freq.find(term);
            if (df == doc_freq.end()) continue;
            const double tf = static_cast<double>(std::count(docs[i].begin(), docs[i].end(), term));
            if (tf == 0) continue;
            const double idf = std::log(1 + (n - df->second + 0.5) / (df->second + 0.5));
            score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * static_cast<double>(docs[i].size()) / avg_len));
        }
        if (score > 0) scored.emplace_back(score, i);
    }
    std::stable_sort(scored.begin(), scored.end(), [](const auto & x, const auto & y) { return x.first > y.first; });
    Result result;
    for (size_t i = 0; i < scored.size() && i < max_results; ++i) result.names.push_back(deferred_[scored[i].second].name);
    return result;
}

}  // namespace pyllm::protocol
