// The OpenAI Responses API output of one request. Streaming, every payload is one complete
// SSE frame (`event: X\ndata: {...}\n\n`) carrying its sequence_number; otherwise the only
// payload is the whole Response object, written at finish. All item state (which output
// item is open, its index and id, what it has accumulated, the next sequence number)
// lives here, so "added before deltas, done after them, one open item at a time, numbers
// in order" holds by construction.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/stream_encoder.h"

namespace pyllm::protocol {

// How a tool the template knows by `flat_name` appears in the output: a function_call, or a
// custom_tool_call whose raw input the model wrote as the JSON arguments {"input": "..."};
// tools of a namespace (MCP) carry it back in the item's `namespace` field.
struct ResponsesTool {
    std::string flat_name;
    bool custom = false;
    std::string ns;
    std::string name;
};

struct ResponsesOptions {
    std::string response_id;  // "resp_..."
    std::string model;        // echoed back as the client named it
    int64_t created_at = 0;
    bool stream = true;
    // The request fields every Response object echoes (instructions, tools, tool_choice,
    // temperature, ...), as JSON object members without the braces: the encoder splices them in.
    std::string request_fields;
    std::vector<ResponsesTool> tools;
    // reasoning.summary was asked for: a local model has no summarizer, so the reasoning
    // item's summary is its whole text (clients such as Codex show only summaries).
    bool reasoning_summary = false;
};

class ResponsesEncoder : public StreamEncoder {
public:
    explicit ResponsesEncoder(ResponsesOptions options);

    void start(const Usage & usage, std::vector<std::string> & out) override;
    void on_event(const parse::StreamEvent & event, std::vector<std::string> & out) override;
    void finish(const FinishInfo & info, std::vector<std::string> & out) override;

private:
    enum class ItemType { reasoning, message, function_call, custom_tool_call };
    struct Item {
        ItemType type;
        std::string id;
        std::string text;       // reasoning or message text; a function call's arguments JSON
        std::string call_id;    // tool calls only
        size_t tool = 0;        // tool calls only: the index in options_.tools
        std::string input;      // custom tool calls: the raw input decoded so far
        bool complete = false;  // its closing event was seen (a call cut by max tokens is not)
    };

    void open_item(Item item, std::vector<std::string> & out);
    void close_item(std::vector<std::string> & out);
    void append_text(ItemType type, const std::string & text, std::vector<std::string> & out);
    void append_arguments(const std::string & fragment, std::vector<std::string> & out);
    void send(std::string_view type, std::string body, std::vector<std::string> & out);
    std::string item_json(const Item & item, bool done) const;
    std::string response_json(std::string_view status, const FinishInfo * info) const;
    std::string usage_json(const Usage & usage) const;
    size_t tool_index(const std::string & flat_name);

    ResponsesOptions options_;
    Usage usage_;
    bool started_ = false;
    bool item_open_ = false;
    bool cut_ = false;  // generation hit max tokens: the open item ends incomplete
    int64_t sequence_ = 0;
    int32_t reasoning_pieces_ = 0;  // reasoning deltas seen: about one per token
    std::vector<Item> items_;
    // Whitespace-only text is held until a non-blank character arrives: text that is only
    // whitespace (e.g. between or after tool calls) never becomes a message item.
    std::string pending_blank_;
    ItemType pending_type_ = ItemType::message;
    // A custom tool's input streams as it is decoded out of the arguments JSON string.
    size_t input_scan_ = 0;  // how much of the open call's arguments text has been decoded
    enum class InputState { before_value, in_string, after_value, not_a_string } input_state_ =
        InputState::before_value;
};

}  // namespace pyllm::protocol
