// The Anthropic Messages API output of one request. Streaming, every payload is one
// complete SSE frame (`event: X\ndata: {...}\n\n`) so Python only writes it; otherwise the
// only payload is the whole Message JSON, written at finish. All block state (which block
// is open, its index, what it has accumulated) lives here, so "one content_block_start per
// block, indices in order, one open block at a time" holds by construction.
#pragma once

#include <string>
#include <vector>

#include "protocol/stream_encoder.h"

namespace pyllm::protocol {

struct AnthropicOptions {
    std::string message_id;  // "msg_..."
    std::string model;       // echoed back as the client named it
    bool stream = true;
    // Only these are reported as stop_sequence; a template's own stop strings end the turn.
    std::vector<std::string> stop_sequences;
};

class AnthropicEncoder : public StreamEncoder {
public:
    explicit AnthropicEncoder(AnthropicOptions options);

    void start(const Usage & usage, std::vector<std::string> & out) override;
    void on_event(const parse::StreamEvent & event, std::vector<std::string> & out) override;
    void finish(const FinishInfo & info, std::vector<std::string> & out) override;

private:
    enum class BlockType { thinking, text, tool_use };
    struct Block {
        BlockType type;
        std::string text;  // thinking or text; for tool_use, the arguments JSON as streamed
        std::string id;    // tool_use only
        std::string name;  // tool_use only
    };

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
    std::vector<Block> blocks_;  // streaming: only the open one matters; otherwise the message
    // Whitespace-only content is held until a non-blank character arrives: text that is
    // only whitespace (e.g. between or after tool calls) never becomes a block.
    std::string pending_blank_;
    BlockType pending_type_ = BlockType::text;
};

}  // namespace pyllm::protocol
