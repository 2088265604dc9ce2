#include "chat_layout.h"

namespace pyllm::parse {

namespace {

using json = common_json;

struct Arena {
    const json & parsers;

    const json & at(const json & id) const { return parsers.at(id.get<size_t>()); }
    std::string type(const json & p) const { return p.value("type", ""); }

    // A single-character optional literal (repetition 0..1 of a literal): its character.
    std::optional<char> optional_char(const json & p) const {
        if (type(p) != "repetition" || p.value("min_count", -1) != 0 || p.value("max_count", -1) != 1) {
            return std::nullopt;
        }
        const json & child = at(p.at("child"));
        if (type(child) != "literal") {
            return std::nullopt;
        }
        const std::string lit = child.at("literal");
        if (lit.size() != 1) {
            return std::nullopt;
        }
        return lit[0];
    }
};

bool is_tag(const Arena & a, const json & p, const char * tag) {
    return a.type(p) == "tag" && p.value("tag", "") == tag;
}

// Reads `optspace(start) + reasoning(until(end)) + optspace(end)` from a sequence.
std::optional<ReasoningLayout> read_reasoning(const Arena & a, const json & seq) {
    const auto & kids = seq.at("children");
    size_t k = kids.size();
    for (size_t i = 0; i < kids.size(); ++i) {
        if (is_tag(a, a.at(kids[i]), "reasoning")) {
            k = i;
        }
    }
    if (k == kids.size()) {
        return std::nullopt;
    }
    ReasoningLayout r;
    size_t i = 0;
    for (; i < k; ++i) {
        const json & p = a.at(kids[i]);
        if (a.type(p) == "literal") {
            r.start = p.at("literal");
            r.start_optional.clear();
        } else if (auto c = a.optional_char(p)) {
            if (r.start.empty()) {
                return std::nullopt;  // optional characters in front of the tag: not written for
            }
            r.start_optional += *c;
        } else if (a.type(p) != "epsilon") {
            return std::nullopt;
        }
    }
    for (i = k + 1; i < kids.size(); ++i) {
        const json & p = a.at(kids[i]);
        if (a.type(p) == "literal") {
            if (!r.end.empty()) {
                return std::nullopt;
            }
            r.end = p.at("literal");
        } else if (auto c = a.optional_char(p)) {
            if (!r.end.empty()) {
                r.end_optional += *c;
            }
            // Optional characters before the end tag are swallowed by until(end) anyway.
        } else if (a.type(p) != "epsilon") {
            return std::nullopt;
        }
    }
    const json & until = a.at(a.at(kids[k]).at("child"));
    if (r.start.empty() || r.end.empty() || a.type(until) != "until" || until.at("delimiters").size() != 1 ||
        until.at("delimiters")[0].get<std::string>() != r.end) {
        return std::nullopt;
    }
    return r;
}

}  // namespace

std::optional<ChatLayout> read_chat_layout(const common_chat_params & params) {
    if (params.parser.empty()) {
        return std::nullopt;
    }
    json root_json;
    try {
        root_json = json::parse(params.parser);
    } catch (const std::exception &) {
        return std::nullopt;
    }
    const Arena a{root_json.at("parsers")};
    ChatLayout layout;

    for (const auto & [name, id] : root_json.at("rules").items()) {
        layout.rules.insert(name);
    }
    int reasoning_blocks = 0;
    int content_nodes = 0;
    for (const auto & p : a.parsers) {
        const std::string type = a.type(p);
        if (type == "literal") {
            layout.literals.insert(p.at("literal").get<std::string>());
        } else if (type == "sequence") {
            if (auto r = read_reasoning(a, p)) {
                layout.reasoning = std::move(r);
                ++reasoning_blocks;
            }
        } else if (is_tag(a, p, "reasoning")) {
            --reasoning_blocks;
        } else if (is_tag(a, p, "content")) {
            ++content_nodes;
            const json & child = a.at(p.at("child"));
            if (a.type(child) == "until") {
                layout.content_until = child.at("delimiters").get<std::vector<std::string>>();
            } else if (a.type(child) != "rest") {
                return std::nullopt;
            }
        }
    }
    // Exactly one reasoning block (or none) and one content span: the layouts written for.
    if (reasoning_blocks != 0 || content_nodes != 1) {
        return std::nullopt;
    }

    // root: sequence(literal(generation prompt up to the reasoning start), [space], ...)
    const json & root = a.at(root_json.at("root"));
    if (a.type(root) != "sequence" || root.at("children").size() < 2) {
        return std::nullopt;
    }
    const json & first = a.at(root.at("children")[0]);
    size_t prefix = 0;
    if (a.type(first) == "literal") {
        const std::string lit = first.at("literal");
        if (params.generation_prompt.compare(0, lit.size(), lit) != 0) {
            return std::nullopt;
        }
        prefix = lit.size();
        layout.skip_leading_space = a.type(a.at(root.at("children")[1])) == "space";
    } else if (!params.generation_prompt.empty()) {
        return std::nullopt;
    }
    layout.prompt_tail = params.generation_prompt.substr(prefix);
    // Mistral's `reasoning? + space + content?`: whitespace before the content is skipped
    // whether or not a reasoning block came first.
    const auto & kids = root.at("children");
    for (size_t i = 0; i < kids.size(); ++i) {
        if (a.type(a.at(kids[i])) != "space") {
            continue;
        }
        size_t j = i + 1;
        while (j < kids.size() && a.type(a.at(kids[j])) == "epsilon") {
            ++j;
        }
        if (j == kids.size()) {
            break;
        }
        const json & next = a.at(kids[j]);
        const bool optional = a.type(next) == "repetition" && next.value("max_count", -1) == 1;
        if (is_tag(a, optional ? a.at(next.at("child")) : next, "content")) {
            layout.space_before_content = true;
        }
    }
    return layout;
}

}  // namespace pyllm::parse
