#include "protocol/responses_encoder.h"

#include <algorithm>

#include "json.h"
#include "protocol/json_string.h"

namespace pyllm::protocol {

namespace {

bool is_blank(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; });
}

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

const char * id_prefix(int type) {
    static const char * prefixes[] = {"rs_", "msg_", "fc_", "ctc_"};
    return prefixes[type];
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void append_utf8(std::string & out, uint32_t cp) {
    if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xC0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += char(0xE0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    } else {
        out += char(0xF0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3F));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    }
}

// Reads a \uXXXX escape at `pos` (the backslash); 0 when the text ends first, -1 when malformed.
int read_u_escape(const std::string & s, size_t pos, uint32_t & cp) {
    if (pos + 6 > s.size()) return 0;
    cp = 0;
    for (size_t i = pos + 2; i < pos + 6; i++) {
        const int v = hex_value(s[i]);
        if (v < 0) return -1;
        cp = cp * 16 + uint32_t(v);
    }
    return 6;
}

// The arguments of a call cut off mid-way (max tokens) are not valid JSON; clients still
// parse what they get, so an empty object stands in.
std::string complete_arguments(const std::string & arguments) {
    if (is_blank(arguments)) return "{}";
    return arguments;
}

}  // namespace

ResponsesEncoder::ResponsesEncoder(ResponsesOptions options) : options_(std::move(options)) {}

size_t ResponsesEncoder::tool_index(const std::string & flat_name) {
    for (size_t i = 0; i < options_.tools.size(); ++i) {
        if (options_.tools[i].flat_name == flat_name) return i;
    }
    // The parser only reports declared tools; one this request did not describe (a
    // template's built-in) is reported under its own name as a function.
    options_.tools.push_back({flat_name, false, {}, flat_name});
    return options_.tools.size() - 1;
}

void ResponsesEncoder::send(std::string_view type, std::string body, std::vector<std::string> & out) {
    // body: the event's own members after "type" and "sequence_number", each with a leading comma.
    std::string frame;
    frame.reserve(type.size() * 2 + body.size() + 64);
    frame += "event: ";
    frame += type;
    frame += "\ndata: {\"type\":\"";
    frame += type;
    frame += "\",\"sequence_number\":";
    frame += std::to_string(sequence_++);
    frame += body;
    frame += "}\n\n";
    out.push_back(std::move(frame));
}

std::string ResponsesEncoder::usage_json(const Usage & u) const {
    const int32_t cached = std::min(u.cached_tokens, u.prompt_tokens);
    const int32_t reasoning = std::min(reasoning_pieces_, u.completion_tokens);
    return "{\"input_tokens\":" + std::to_string(u.prompt_tokens) +
           ",\"input_tokens_details\":{\"cached_tokens\":" + std::to_string(cached) +
           "},\"output_tokens\":" + std::to_string(u.completion_tokens) +
           ",\"output_tokens_details\":{\"reasoning_tokens\":" + std::to_string(reasoning) +
           "},\"total_tokens\":" + std::to_string(u.prompt_tokens + u.completion_tokens) + "}";
}

std::string ResponsesEncoder::item_json(const Item & item, bool done) const {
    const char * status = !done ? "in_progress" : item.complete ? "completed" : "incomplete";
    std::string data = "{\"id\":";
    append_json_string(data, item.id);
    switch (item.type) {
        case ItemType::reasoning:
            data += ",\"type\":\"reasoning\",\"summary\":[";
            if (done && options_.reasoning_summary) {
                data += "{\"type\":\"summary_text\",\"text\":";
                append_json_string(data, item.text);
                data += '}';
            }
            data += "],\"content\":[";
            if (done) {
                data += "{\"type\":\"reasoning_text\",\"text\":";
                append_json_string(data, item.text);
                data += '}';
            }
            data += "]";
            break;
        case ItemType::message:
            data += ",\"type\":\"message\",\"role\":\"assistant\",\"content\":[";
            if (done) {
                data += "{\"type\":\"output_text\",\"text\":";
                append_json_string(data, item.text);
                data += ",\"annotations\":[],\"logprobs\":[]}";
            }
            data += "]";
            break;
        case ItemType::function_call:
        case ItemType::custom_tool_call: {
            const ResponsesTool & tool = options_.tools[item.tool];
            const bool custom = item.type == ItemType::custom_tool_call;
            data += custom ? ",\"type\":\"custom_tool_call\",\"call_id\":" : ",\"type\":\"function_call\",\"call_id\":";
            append_json_string(data, item.call_id);
            data += ",\"name\":";
            append_json_string(data, tool.name);
            if (!tool.ns.empty()) {
                data += ",\"namespace\":";
                append_json_string(data, tool.ns);
            }
            if (custom) {
                data += ",\"input\":";
                append_json_string(data, done ? item.input : "");
            } else {
                data += ",\"arguments\":";
                append_json_string(data, done ? complete_arguments(item.text) : "");
            }
            break;
        }
    }
    data += ",\"status\":\"";
    data += status;
    data += "\"}";
    return data;
}

std::string ResponsesEncoder::response_json(std::string_view status, const FinishInfo * info) const {
    std::string data = "{\"id\":";
    append_json_string(data, options_.response_id);
    data += ",\"object\":\"response\",\"created_at\":" + std::to_string(options_.created_at) + ",\"status\":\"";
    data += status;
    data += "\",\"model\":";
    append_json_string(data, options_.model);
    data += ",\"output\":[";
    if (info) {
        for (size_t i = 0; i < items_.size(); ++i) {
            if (i) data += ',';
            data += item_json(items_[i], true);
        }
    }
    data += "],\"usage\":";
    data += info ? usage_json(info->usage) : "null";
    data += ",\"incomplete_details\":";
    data += info && info->reason == FinishReason::length ? "{\"reason\":\"max_output_tokens\"}" : "null";
    data += ",\"error\":";
    if (info && info->reason == FinishReason::error) {
        data += "{\"code\":\"server_error\",\"message\":";
        append_json_string(data, info->error.empty() ? "generation failed" : info->error);
        data += '}';
    } else {
        data += "null";
    }
    if (!options_.request_fields.empty()) {
        data += ',';
        data += options_.request_fields;
    }
    data += '}';
    return data;
}

void ResponsesEncoder::start(const Usage & usage, std::vector<std::string> & out) {
    usage_ = usage;
    started_ = true;
    if (!options_.stream) return;
    const std::string skeleton = response_json("in_progress", nullptr);
    send("response.created", ",\"response\":" + skeleton, out);
    send("response.in_progress", ",\"response\":" + skeleton, out);
}

void ResponsesEncoder::open_item(Item item, std::vector<std::string> & out) {
    close_item(out);
    item.id = id_prefix(int(item.type)) + options_.response_id.substr(options_.response_id.find('_') + 1) + "_" +
              std::to_string(items_.size());
    items_.push_back(std::move(item));
    item_open_ = true;
    input_scan_ = 0;
    input_state_ = InputState::before_value;
    if (!options_.stream) return;
    const Item & it = items_.back();
    const std::string where = ",\"output_index\":" + std::to_string(items_.size() - 1);
    send("response.output_item.added", where + ",\"item\":" + item_json(it, false), out);
    if (it.type == ItemType::message || it.type == ItemType::reasoning) {
        std::string body = ",\"item_id\":" + json_string(it.id) + where + ",\"content_index\":0,\"part\":";
        body += it.type == ItemType::message ? R"({"type":"output_text","text":"","annotations":[],"logprobs":[]})"
                                             : R"({"type":"reasoning_text","text":""})";
        send("response.content_part.added", std::move(body), out);
    }
    if (it.type == ItemType::reasoning && options_.reasoning_summary) {
        send("response.reasoning_summary_part.added",
             ",\"item_id\":" + json_string(it.id) + where + R"(,"summary_index":0,"part":{"type":"summary_text","text":""})",
             out);
    }
}

void ResponsesEncoder::close_item(std::vector<std::string> & out) {
    if (!item_open_) return;
    item_open_ = false;
    Item & it = items_.back();
    if (it.type == ItemType::custom_tool_call && input_state_ != InputState::in_string &&
        input_state_ != InputState::after_value) {
        // Not the {"input": "..."} shape (a template's own call syntax may differ): the
        // input is the "input" string if the arguments hold one, else the arguments as written.
        std::string input = it.text;
        const common_json value = common_json::parse_no_throw(it.text);
        if (!value.is_discarded() && value.is_object() && value.contains("input") && value.at("input").is_string()) {
            input = value.at("input").get<std::string>();
        }
        if (input.size() > it.input.size() && input.compare(0, it.input.size(), it.input) == 0 && options_.stream) {
            send("response.custom_tool_call_input.delta",
                 ",\"item_id\":" + json_string(it.id) + ",\"output_index\":" + std::to_string(items_.size() - 1) +
                     ",\"delta\":" + json_string(input.substr(it.input.size())),
                 out);
        }
        it.input = std::move(input);
    }
    if (it.type == ItemType::reasoning || it.type == ItemType::message) it.complete = !cut_;
    if (!options_.stream) return;
    const std::string where = ",\"item_id\":" + json_string(it.id) + ",\"output_index\":" +
                              std::to_string(items_.size() - 1);
    switch (it.type) {
        case ItemType::reasoning:
            send("response.reasoning_text.done", where + ",\"content_index\":0,\"text\":" + json_string(it.text), out);
            send("response.content_part.done",
                 where + ",\"content_index\":0,\"part\":{\"type\":\"reasoning_text\",\"text\":" + json_string(it.text) + "}",
                 out);
            if (options_.reasoning_summary) {
                send("response.reasoning_summary_text.done",
                     where + ",\"summary_index\":0,\"text\":" + json_string(it.text), out);
                send("response.reasoning_summary_part.done",
                     where + ",\"summary_index\":0,\"part\":{\"type\":\"summary_text\",\"text\":" + json_string(it.text) + "}",
                     out);
            }
            break;
        case ItemType::message:
            send("response.output_text.done",
                 where + ",\"content_index\":0,\"text\":" + json_string(it.text) + ",\"logprobs\":[]", out);
            send("response.content_part.done",
                 where + ",\"content_index\":0,\"part\":{\"type\":\"output_text\",\"text\":" + json_string(it.text) +
                     ",\"annotations\":[],\"logprobs\":[]}",
                 out);
            break;
        case ItemType::function_call:
            send("response.function_call_arguments.done",
                 where + ",\"name\":" + json_string(options_.tools[it.tool].name) + ",\"arguments\":" +
                     json_string(complete_arguments(it.text)),
                 out);
            break;
        case ItemType::custom_tool_call:
            send("response.custom_tool_call_input.done", where + ",\"input\":" + json_string(it.input), out);
            break;
    }
    send("response.output_item.done",
         ",\"output_index\":" + std::to_string(items_.size() - 1) + ",\"item\":" + item_json(it, true), out);
}

void ResponsesEncoder::append_text(ItemType type, const std::string & text, std::vector<std::string> & out) {
    if (text.empty()) return;
    if (type == ItemType::reasoning) ++reasoning_pieces_;
    const bool continues = item_open_ && items_.back().type == type;
    std::string piece;
    if (!continues) {
        if (is_blank(text)) {
            if (pending_type_ != type) pending_blank_.clear();
            pending_type_ = type;
            pending_blank_ += text;
            return;
        }
        piece = pending_type_ == type ? pending_blank_ + text : text;
        pending_blank_.clear();
        open_item({type, {}, {}, {}, 0, {}, false}, out);
    }
    const std::string & delta = continues ? text : piece;
    Item & it = items_.back();
    it.text += delta;
    if (!options_.stream) return;
    const std::string where = ",\"item_id\":" + json_string(it.id) + ",\"output_index\":" +
                              std::to_string(items_.size() - 1);
    const std::string delta_json = json_string(delta);
    send(type == ItemType::message ? "response.output_text.delta" : "response.reasoning_text.delta",
         where + ",\"content_index\":0,\"delta\":" + delta_json + (type == ItemType::message ? ",\"logprobs\":[]" : ""),
         out);
    if (type == ItemType::reasoning && options_.reasoning_summary) {
        send("response.reasoning_summary_text.delta", where + ",\"summary_index\":0,\"delta\":" + delta_json, out);
    }
}

void ResponsesEncoder::append_arguments(const std::string & fragment, std::vector<std::string> & out) {
    Item & it = items_.back();
    it.text += fragment;
    const std::string where = ",\"item_id\":" + json_string(it.id) + ",\"output_index\":" +
                              std::to_string(items_.size() - 1);
    if (it.type == ItemType::function_call) {
        if (options_.stream) send("response.function_call_arguments.delta", where + ",\"delta\":" + json_string(fragment), out);
        return;
    }
    // A custom tool's arguments are {"input": "<raw input>"}: the string's decoded text streams.
    const std::string & s = it.text;
    if (input_state_ == InputState::before_value) {
        static const std::string expected[] = {"{", "\"input\"", ":", "\""};
        size_t pos = 0;
        for (const auto & token : expected) {
            while (pos < s.size() && is_space(s[pos])) ++pos;
            const size_t n = std::min(token.size(), s.size() - pos);
            if (s.compare(pos, n, token, 0, n) != 0) {
                input_state_ = InputState::not_a_string;
                return;
            }
            if (n < token.size()) return;  // wait for more
            pos += n;
        }
        input_state_ = InputState::in_string;
        input_scan_ = pos;
    }
    if (input_state_ != InputState::in_string) return;
    std::string decoded;
    size_t pos = input_scan_;
    while (pos < s.size()) {
        const char c = s[pos];
        if (c == '"') {
            input_state_ = InputState::after_value;
            ++pos;
            break;
        }
        if (c != '\\') {
            decoded += c;
            ++pos;
            continue;
        }
        if (pos + 1 >= s.size()) break;
        const char e = s[pos + 1];
        if (e == 'u') {
            uint32_t cp = 0;
            const int n = read_u_escape(s, pos, cp);
            if (n == 0) break;
            if (n < 0) {
                input_state_ = InputState::not_a_string;
                return;
            }
            size_t used = 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (pos + 12 > s.size()) break;
                uint32_t low = 0;
                if (s[pos + 6] != '\\' || s[pos + 7] != 'u' || read_u_escape(s, pos + 6, low) != 6 || low < 0xDC00 ||
                    low > 0xDFFF) {
                    input_state_ = InputState::not_a_string;
                    return;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                used = 12;
            }
            append_utf8(decoded, cp);
            pos += used;
            continue;
        }
        static const std::string escapes = "\"\\/bfnrt";
        static const std::string values = "\"\\/\b\f\n\r\t";
        const size_t k = escapes.find(e);
        if (k == std::string::npos) {
            input_state_ = InputState::not_a_string;
            return;
        }
        decoded += values[k];
        pos += 2;
    }
    input_scan_ = pos;
    if (decoded.empty()) return;
    it.input += decoded;
    if (options_.stream) send("response.custom_tool_call_input.delta", where + ",\"delta\":" + json_string(decoded), out);
}

void ResponsesEncoder::on_event(const parse::StreamEvent & event, std::vector<std::string> & out) {
    switch (event.kind) {
        case parse::StreamEventKind::reasoning:
            append_text(ItemType::reasoning, event.text, out);
            break;
        case parse::StreamEventKind::content:
            append_text(ItemType::message, event.text, out);
            break;
        case parse::StreamEventKind::tool_call_start: {
            pending_blank_.clear();
            const size_t tool = tool_index(event.name);
            open_item({options_.tools[tool].custom ? ItemType::custom_tool_call : ItemType::function_call, {}, {},
                       "call_" + event.id, tool, {}, false},
                      out);
            break;
        }
        case parse::StreamEventKind::tool_args:
            if (!item_open_ || event.text.empty()) break;
            if (items_.back().type != ItemType::function_call && items_.back().type != ItemType::custom_tool_call) break;
            append_arguments(event.text, out);
            break;
        case parse::StreamEventKind::tool_call_end:
            if (!item_open_) break;
            if (items_.back().type != ItemType::function_call && items_.back().type != ItemType::custom_tool_call) break;
            items_.back().complete = true;
            close_item(out);
            break;
    }
}

void ResponsesEncoder::finish(const FinishInfo & info, std::vector<std::string> & out) {
    if (info.reason == FinishReason::error) {
        // Non-streaming, Python answers the failed task with an error response.
        if (!options_.stream) return;
        if (!started_) start(info.usage, out);
        send("response.failed", ",\"response\":" + response_json("failed", &info), out);
        return;
    }
    if (!started_) start(info.usage, out);
    const bool incomplete = info.reason == FinishReason::length;
    cut_ = incomplete;
    close_item(out);
    const char * status = incomplete ? "incomplete" : "completed";
    if (!options_.stream) {
        out.push_back(response_json(status, &info));
        return;
    }
    send(incomplete ? "response.incomplete" : "response.completed", ",\"response\":" + response_json(status, &info),
         out);
}

}  // namespace pyllm::protocol
