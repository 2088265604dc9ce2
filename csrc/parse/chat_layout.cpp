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

    // The end tag of a reasoning block that may also end without it: `optional("</think>")`
    // (Kimi-K2) or `"</think>" | peek(...)` (Qwen3.5, the peeked marker is a stop_before).
    std::optional<std::string> end_tag(const json & p) const {
        if (type(p) == "repetition" && p.value("min_count", -1) == 0 && p.value("max_count", -1) == 1) {
            const json & child = at(p.at("child"));
            if (type(child) == "literal") {
                return child.at("literal").get<std::string>();
            }
        }
        if (type(p) == "choice" && p.at("children").size() == 2) {
            const json & first = at(p.at("children")[0]);
            if (type(first) == "literal" && type(at(p.at("children")[1])) == "and") {
                return first.at("literal").get<std::string>();
            }
        }
        return std::nullopt;
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
        } else if (a.type(p) == "space" && !r.start.empty()) {
            r.start_space = true;
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
        } else if (auto tag = a.end_tag(p); tag && r.end.empty()) {
            r.end = *tag;  // optional("</think>") or ("</think>" | peek(<tool_call>))
        } else if (a.type(p) != "epsilon") {
            return std::nullopt;
        }
    }
    const json & until = a.at(a.at(kids[k]).at("child"));
    if (r.start.empty() || r.end.empty() || a.type(until) != "until") {
        return std::nullopt;
    }
    bool has_end = false;
    for (const auto & d : until.at("delimiters")) {
        const std::string delim = d.get<std::string>();
        if (delim == r.end) {
            has_end = true;
        } else {
            r.stop_before.push_back(delim);
        }
    }
    if (!has_end) {
        return std::nullopt;
    }
    return r;
}

// Tagged arguments: under each `tool-name` literal, every `tool-arg`'s name literal and how
// its value is tagged (tool-arg-string-value: raw text; tool-arg-value: a JSON value).
class ArgKindReader {
public:
    explicit ArgKindReader(const Arena & a) : a_(a) {}

    void read_tool(const json & p, ArgKinds & kinds) {
        tool_.clear();
        seen_.clear();
        walk(p, kinds);
    }

private:
    static std::string tag(const json & p) { return p.value("type", "") == "tag" ? p.value("tag", "") : ""; }

    std::optional<std::string> literal_under(const json & p) const {
        if (a_.type(p) == "literal") {
            return p.at("literal").get<std::string>();
        }
        if (p.contains("child")) {
            return literal_under(a_.at(p.at("child")));
        }
        if (p.contains("children") && p.at("children").size() == 1) {
            return literal_under(a_.at(p.at("children")[0]));
        }
        return std::nullopt;
    }

    // JSON kinds a tool-arg-value accepts: json-value is any, a choice lists some. `seen`:
    // rules already entered, as a schema's rules may be recursive.
    unsigned json_kinds(const json & p, std::set<std::string> & seen) const {
        const std::string type = a_.type(p);
        if (type == "rule") {
            static const std::map<std::string, unsigned> kinds = {
                {"json-value", ArgValueKind::any},        {"json-object", ArgValueKind::object},
                {"json-array", ArgValueKind::array},      {"json-number", ArgValueKind::number},
                {"json-bool", ArgValueKind::boolean},     {"json-null", ArgValueKind::null},
                {"json-string", ArgValueKind::string_value}};
            const std::string name = p.value("name", "");
            if (const auto it = kinds.find(name); it != kinds.end()) {
                return it->second;
            }
            return seen.insert(name).second ? json_kinds(a_.at(p.at("child")), seen) : 0;
        }
        unsigned k = 0;
        if (p.contains("child")) {
            k |= json_kinds(a_.at(p.at("child")), seen);
        }
        if (p.contains("children")) {
            for (const auto & c : p.at("children")) {
                k |= json_kinds(a_.at(c), seen);
            }
        }
        return k;
    }

    void walk(const json & p, ArgKinds & arg_kinds) {
        const std::string t = tag(p);
        if (t == "tool-name") {
            if (auto name = literal_under(p)) {
                tool_ = *name;
                arg_kinds[tool_];
            }
            return;
        }
        if (t == "tool-arg-name") {
            if (auto name = literal_under(p)) {
                arg_ = *name;
            }
            return;
        }
        if (t == "tool-arg-string-value" || t == "tool-arg-value") {
            if (!tool_.empty() && !arg_.empty()) {
                ArgValueKind & kind = arg_kinds[tool_][arg_];
                if (t == "tool-arg-string-value") {
                    kind.string = true;
                } else {
                    std::set<std::string> seen;
                    kind.json |= json_kinds(a_.at(p.at("child")), seen);
                }
            }
            return;
        }
        if (a_.type(p) == "rule" && !seen_.insert(p.value("name", "")).second) {
            return;
        }
        if (p.contains("child")) {
            walk(a_.at(p.at("child")), arg_kinds);
        }
        if (p.contains("children")) {
            for (const auto & c : p.at("children")) {
                walk(a_.at(c), arg_kinds);
            }
        }
    }

    const Arena & a_;
    std::string tool_;
    std::string arg_;
    std::set<std::string> seen_;
};

bool parse_parser(const common_chat_params & params, json & root) {
    if (params.parser.empty()) {
        return false;
    }
    try {
        root = json::parse(params.parser);
    } catch (const std::exception &) {
        return false;
    }
    return true;
}

void read_rules(const Arena & a, const json & root, std::set<std::string> & rules, ArgKinds & kinds) {
    ArgKindReader reader(a);
    for (const auto & [name, id] : root.at("rules").items()) {
        rules.insert(name);
        // "tool-NAME": one declared tool's call (its arguments' rules are "tool-NAME-arg-KEY")
        if (name.rfind("tool-", 0) == 0 && name.find("-arg-") == std::string::npos) {
            reader.read_tool(a.at(id), kinds);
        }
    }
}

}  // namespace

std::optional<ParserFacts> read_parser_facts(const common_chat_params & params) {
    json root;
    if (!parse_parser(params, root)) {
        return std::nullopt;
    }
    const Arena a{root.at("parsers")};
    ParserFacts facts;
    read_rules(a, root, facts.rules, facts.arg_kinds);
    for (const auto & p : a.parsers) {
        facts.extracts_reasoning = facts.extracts_reasoning || is_tag(a, p, "reasoning");
    }
    return facts;
}

std::optional<ChatLayout> read_chat_layout(const common_chat_params & params) {
    json root_json;
    if (!parse_parser(params, root_json)) {
        return std::nullopt;
    }
    const Arena a{root_json.at("parsers")};
    ChatLayout layout;

    read_rules(a, root_json, layout.rules, layout.arg_kinds);
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
    // `reasoning? + space + content?` (Mistral, Qwen3.5, Kimi-K2): whitespace before the
    // content is skipped whether or not a reasoning block came first. The space node sits
    // right after the optional reasoning block, or right before the (optional) content.
    const auto & kids = root.at("children");
    for (size_t i = 1; i < kids.size(); ++i) {
        if (a.type(a.at(kids[i])) != "space") {
            continue;
        }
        const json & before = a.at(kids[i - 1]);
        const bool after_reasoning = a.type(before) == "repetition" && a.type(a.at(before.at("child"))) == "sequence" &&
                                     read_reasoning(a, a.at(before.at("child")));
        size_t j = i + 1;
        while (j < kids.size() && a.type(a.at(kids[j])) == "epsilon") {
            ++j;
        }
        bool before_content = false;
        if (j < kids.size()) {
            const json & next = a.at(kids[j]);
            const bool optional = a.type(next) == "repetition" && next.value("max_count", -1) == 1;
            before_content = is_tag(a, optional ? a.at(next.at("child")) : next, "content");
        }
        if (after_reasoning || before_content) {
            layout.space_before_content = true;
        }
    }
    return layout;
}

}  // namespace pyllm::parse
