#include "protocol/anthropic_encoder.h"

#include <algorithm>
#include <cstdint>

#include "json.h"
#include "protocol/json_string.h"

namespace pyllm::protocol {

namespace {

bool is_blank(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; });
}

// Clients require a non-empty signature on thinking blocks and send it back unchanged; a
// local model has nothing to sign, so it is a digest of the thinking text (FNV-1a).
std::string thinking_signature(std::string_view thinking) {
    uint64_t h = 14695981039346656037ull;
    for (unsigned char c : thinking) {
        h ^= c;
        h *= 1099511628211ull;
    }
    static const char hex[] = "0123456789abcdef";
    std::string out = "pyllm-";
    for (int shift = 60; shift >= 0; shift -= 4) out += hex[(h >> shift) & 0xF];
    return out;
}

// The arguments as an object; a call cut off mid-arguments (max_tokens) has none to give.
std::string tool_input_json(const std::string & arguments) {
    if (is_blank(arguments)) return "{}";
    try {
        auto value = common_json::parse(arguments);
        if (value.is_object()) return value.dump_safe();
    } catch (const std::exception &) {
    }
    return "{}";
}

std::string usage_json(const Usage & u, int32_t output_tokens) {
    const int32_t cached = std::min(u.cached_tokens, u.prompt_tokens);
    return "{\"input_tokens\":" + std::to_string(u.prompt_tokens - cached) +
           ",\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":" + std::to_string(cached) +
           ",\"output_tokens\":" + std::to_string(output_tokens) + "}";
}

std::string search_result_json(const std::string & tool_use_id, const std::string & content) {
    std::string data = R"({"type":"tool_search_tool_result","tool_use_id":)";
    append_json_string(data, tool_use_id);
    data += ",\"content\":" + content + "}";
    return data;
}

}  // namespace

AnthropicEncoder::AnthropicEncoder(AnthropicOptions options) : options_(std::move(options)) {}

void AnthropicEncoder::send(std::string_view type, const std::string & data, std::vector<std::string> & out) const {
    std::string frame;
    frame.reserve(type.size() + data.size() + 16);
    frame += "event: ";
    frame += type;
    frame += "\ndata: ";
    frame += data;
    frame += "\n\n";
    out.push_back(std::move(frame));
}

void AnthropicEncoder::start(const Usage & usage, std::vector<std::string> & out) {
    usage_ = usage;
    started_ = true;
    if (!options_.stream) return;
    std::string data = "{\"type\":\"message_start\",\"message\":{\"id\":";
    append_json_string(data, options_.message_id);
    data += ",\"type\":\"message\",\"role\":\"assistant\",\"model\":";
    append_json_string(data, options_.model);
    data += ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":";
    data += usage_json(usage, 0);
    data += "}}";
    send("message_start", data, out);
}

void AnthropicEncoder::open_block(Block block, std::vector<std::string> & out) {
    close_block(out);
    blocks_.push_back(std::move(block));
    block_open_ = true;
    if (!options_.stream) return;
    const Block & b = blocks_.back();
    std::string data = "{\"type\":\"content_block_start\",\"index\":" + std::to_string(blocks_.size() - 1) +
                       ",\"content_block\":";
    switch (b.type) {
        case BlockType::thinking: data += R"({"type":"thinking","thinking":"","signature":""})"; break;
        case BlockType::text: data += R"({"type":"text","text":""})"; break;
        case BlockType::tool_use:
        case BlockType::server_tool_use:
            data += b.type == BlockType::tool_use ? R"({"type":"tool_use","id":)" : R"({"type":"server_tool_use","id":)";
            append_json_string(data, b.id);
            data += ",\"name\":";
            append_json_string(data, b.name);
            data += ",\"input\":{}}";
            break;
        case BlockType::tool_search_result:
            data += search_result_json(b.id, b.text);
            break;
    }
    data += '}';
    send("content_block_start", data, out);
}

void AnthropicEncoder::close_block(std::vector<std::string> & out) {
    if (!block_open_) return;
    block_open_ = false;
    if (!options_.stream) return;
    const Block & b = blocks_.back();
    const std::string index = std::to_string(blocks_.size() - 1);
    if (b.type == BlockType::thinking) {
        std::string data = "{\"type\":\"content_block_delta\",\"index\":" + index +
                           ",\"delta\":{\"type\":\"signature_delta\",\"signature\":";
        append_json_string(data, thinking_signature(b.text));
        data += "}}";
        send("content_block_delta", data, out);
    }
    send("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":" + index + "}", out);
}

void AnthropicEncoder::append_text(BlockType type, const std::string & text, std::vector<std::string> & out) {
    if (text.empty()) return;
    const bool continues = block_open_ && blocks_.back().type == type;
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
        open_block({type, {}, {}, {}}, out);
    }
    const std::string & delta = continues ? text : piece;
    blocks_.back().text += delta;
    if (!options_.stream) return;
    std::string data = "{\"type\":\"content_block_delta\",\"index\":" + std::to_string(blocks_.size() - 1);
    if (type == BlockType::thinking) {
        data += ",\"delta\":{\"type\":\"thinking_delta\",\"thinking\":";
    } else {
        data += ",\"delta\":{\"type\":\"text_delta\",\"text\":";
    }
    append_json_string(data, delta);
    data += "}}";
    send("content_block_delta", data, out);
}

void AnthropicEncoder::run_tool_search(std::vector<std::string> & out) {
    const Block call = blocks_.back();
    close_block(out);
    const ToolSearch::Result result = options_.tool_search.run(call.name, tool_input_json(call.text));
    std::string content;
    if (result.error_code.empty()) {
        content = R"({"type":"tool_search_tool_search_result","tool_references":[)";
        for (size_t i = 0; i < result.names.size(); ++i) {
            if (i) content += ',';
            content += R"({"type":"tool_reference","tool_name":)";
            append_json_string(content, result.names[i]);
            content += '}';
        }
        content += "]}";
    } else {
        content = R"({"type":"tool_search_tool_result_error","error_code":)";
        append_json_string(content, result.error_code);
        content += ",\"error_message\":";
        append_json_string(content, result.error_message);
        content += '}';
    }
    open_block({BlockType::tool_search_result, std::move(content), call.id, {}}, out);
    close_block(out);
    paused_ = true;
}

void AnthropicEncoder::on_event(const parse::StreamEvent & event, std::vector<std::string> & out) {
    if (paused_) return;
    switch (event.kind) {
        case parse::StreamEventKind::reasoning:
            append_text(BlockType::thinking, event.text, out);
            break;
        case parse::StreamEventKind::content:
            append_text(BlockType::text, event.text, out);
            break;
        case parse::StreamEventKind::tool_call_start:
            pending_blank_.clear();
            if (options_.tool_search.is_search_tool(event.name)) {
                open_block({BlockType::server_tool_use, {}, "srvtoolu_" + event.id, event.name}, out);
                break;
            }
            saw_tool_use_ = true;
            open_block({BlockType::tool_use, {}, "toolu_" + event.id, event.name}, out);
            break;
        case parse::StreamEventKind::tool_args: {
            if (!block_open_ || !is_call(blocks_.back().type) || event.text.empty()) break;
            blocks_.back().text += event.text;
            if (!options_.stream) break;
            std::string data = "{\"type\":\"content_block_delta\",\"index\":" + std::to_string(blocks_.size() - 1) +
                               ",\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":";
            append_json_string(data, event.text);
            data += "}}";
            send("content_block_delta", data, out);
            break;
        }
        case parse::StreamEventKind::tool_call_end: {
            if (!block_open_ || !is_call(blocks_.back().type)) break;
            // A call without arguments still has to concatenate to a JSON object.
            if (is_blank(blocks_.back().text)) {
                blocks_.back().text = "{}";
                if (options_.stream) {
                    send("content_block_delta",
                         "{\"type\":\"content_block_delta\",\"index\":" + std::to_string(blocks_.size() - 1) +
                             R"(,"delta":{"type":"input_json_delta","partial_json":"{}"}})",
                         out);
                }
            }
            if (blocks_.back().type == BlockType::server_tool_use) {
                run_tool_search(out);
            } else {
                close_block(out);
            }
            break;
        }
    }
}

std::string AnthropicEncoder::stop_reason(const FinishInfo & info) const {
    if (paused_) return "pause_turn";
    switch (info.reason) {
        case FinishReason::length: return "max_tokens";
        case FinishReason::context_full: return "model_context_window_exceeded";
        case FinishReason::stop_sequence:
            if (std::find(options_.stop_sequences.begin(), options_.stop_sequences.end(), info.stop_sequence) !=
                options_.stop_sequences.end()) {
                return "stop_sequence";
            }
            break;
        default: break;
    }
    return saw_tool_use_ ? "tool_use" : "end_turn";
}

std::string AnthropicEncoder::message_json(const FinishInfo & info) const {
    const std::string reason = stop_reason(info);
    std::string data = "{\"id\":";
    append_json_string(data, options_.message_id);
    data += ",\"type\":\"message\",\"role\":\"assistant\",\"model\":";
    append_json_string(data, options_.model);
    data += ",\"content\":[";
    for (size_t i = 0; i < blocks_.size(); ++i) {
        const Block & b = blocks_[i];
        if (i) data += ',';
        switch (b.type) {
            case BlockType::thinking:
                data += "{\"type\":\"thinking\",\"thinking\":";
                append_json_string(data, b.text);
                data += ",\"signature\":";
                append_json_string(data, thinking_signature(b.text));
                data += '}';
                break;
            case BlockType::text:
                data += "{\"type\":\"text\",\"text\":";
                append_json_string(data, b.text);
                data += '}';
                break;
            case BlockType::tool_use:
            case BlockType::server_tool_use:
                data += b.type == BlockType::tool_use ? "{\"type\":\"tool_use\",\"id\":" : "{\"type\":\"server_tool_use\",\"id\":";
                append_json_string(data, b.id);
                data += ",\"name\":";
                append_json_string(data, b.name);
                data += ",\"input\":" + tool_input_json(b.text) + "}";
                break;
            case BlockType::tool_search_result:
                data += search_result_json(b.id, b.text);
                break;
        }
    }
    data += "],\"stop_reason\":";
    append_json_string(data, reason);
    data += ",\"stop_sequence\":";
    data += reason == "stop_sequence" ? json_string(info.stop_sequence) : "null";
    data += ",\"usage\":" + usage_json(info.usage, info.usage.completion_tokens) + "}";
    return data;
}

void AnthropicEncoder::finish(const FinishInfo & info, std::vector<std::string> & out) {
    if (info.reason == FinishReason::error) {
        // Non-streaming, Python answers the failed task with an error response.
        if (!options_.stream) return;
        std::string data = R"({"type":"error","error":{"type":"api_error","message":)";
        append_json_string(data, info.error.empty() ? "generation failed" : info.error);
        data += "}}";
        send("error", data, out);
        return;
    }
    if (!started_) start(info.usage, out);
    close_block(out);
    if (!options_.stream) {
        out.push_back(message_json(info));
        return;
    }
    const std::string reason = stop_reason(info);
    std::string data = "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":";
    append_json_string(data, reason);
    data += ",\"stop_sequence\":";
    data += reason == "stop_sequence" ? json_string(info.stop_sequence) : "null";
    data += "},\"usage\":" + usage_json(info.usage, info.usage.completion_tokens) + "}";
    send("message_delta", data, out);
    send("message_stop", "{\"type\":\"message_stop\"}", out);
}

}  // namespace pyllm::protocol
