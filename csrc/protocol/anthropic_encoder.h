// The Anthropic Messages API output of one request. Streaming, every payload is one
// complete SSE frame (`event: X\ndata: {...}\n\n`) so Python only writes it; otherwise the
// only payload is the whole Message JSON, written at finish. All block state (which block
// is open, its index, what it has accumulated) lives here, so "one content_block_start per
// block, indices in order, one open block at a time" holds by construction.
#pragma once

#include <string>
#include <vector>

#include "protocol/stream_encoder.h"
#include "protocol/tool_search.h"

namespace pyllm::protocol {

struct AnthropicOptions {
    std::string message_id;  // "msg_..."
    std::string model;       // echoed back as the client named it
    bool stream = true;
    // Only these are reported as stop_sequence; a template's own stop strings end the turn.
    std::vector<std::string> stop_sequences;
    // A call of one of its search tools is run here: a server_tool_use block, then the
    // tool_search_tool_result, and the turn pauses (stop_reason pause_turn) so that the
    // client sends it back and the next turn has the found tools loaded.
    ToolSearch tool_search;
};

class AnthropicEncoder : public StreamEncoder {
public:
    explicit AnthropicEncoder(AnthropicOptions options);

    void start(const Usage & usage, std::vector<std::string> & out) override;
    void on_event(const parse::StreamEvent & event, std::vector<std::string> & out) override;
    void finish(const FinishInfo & info, std::vector<std::string> & out) override;

private:
    enum class BlockType { thinking, text, tool_use, server_tool_use, tool_search_result };
    struct Block {
        BlockType type;
        std::string text;  // thinking or text; for tool_use, the arguments JSON as streamed;
                           // for tool_search_result, its content object
        std::string id;    // tool_use, server_tool_use; tool_search_result: the call's id
        std::string name;  // tool_use, server_tool_use
    };
    static bool is_call(BlockType type) { return type == BlockType::tool_use || type == BlockType::server_tool_use; }
    void run_tool_search(std::vector<std::string> & out);

    void open_block(Block block, std::vector<std::string> & out);
    void close_block(std::vector<std::string> & out);
    void append_text(BlockType type, const std::string & text, std::vector<std::string> & out);
    void send(std::string_view type, const std::string & data, std::vector<std::string> & out) const;
    std::string stop_reason(const FinishInfo & info) const;
    std::string message_json(const FinishInfo & info) const;

    AnthropicOptions options_;
    Usage usage_;
    bool started_ = false;
    bool block_open_ = false;
    bool saw_tool_use_ = false;
    bool paused_ = false;  // a server tool ran: the rest of the output is not this turn's
    std::vector<Block> blocks_;  // streaming: only the open one matters; otherwise the message
    // Whitespace-only content is held until a non-blank character arrives: text that is
    // only whitespace (e.g. between or after tool calls) never becomes a block.
    std::string pending_blank_;
    BlockType pending_type_ = BlockType::text;
};

}  // namespace pyllm::protocol
