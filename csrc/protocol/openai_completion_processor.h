// OpenAI legacy Completions output (`/v1/completions`) for one request: plain text, no chat
// parser, so this is the task's whole output processor. `text_completion` chunks while
// streaming, or one `text_completion` object at the end.
#pragma once

#include "engine/task.h"
#include "protocol/openai_chat_encoder.h"

namespace pyllm::protocol {

class OpenAICompletionProcessor : public OutputProcessor {
public:
    explicit OpenAICompletionProcessor(OpenAIResponseOptions options);

    void on_start(const Usage & usage, std::vector<std::string> & out) override;
    void on_text(std::string_view text, std::vector<std::string> & out) override;
    void on_finish(const FinishInfo & info, std::vector<std::string> & out) override;

private:
    OpenAIResponseOptions options_;
    std::string head_;  // every payload up to the choices: id, created, model are constant
    std::string text_;  // non-streaming: the text so far
};

}  // namespace pyllm::protocol
