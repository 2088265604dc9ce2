// Several call syntaxes in one format, each opened by its own start markers (Llama 3.x: JSON
// objects after "{" or <|python_tag|>, pythonic lists after "[" or <|python_start|>).
#pragma once

#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tool_call_syntax.h"

namespace pyllm::parse {

class ToolCallSyntaxChoice : public ToolCallSyntax {
public:
    // A call opened by one of `start_markers` is read by `syntax`; the first syntax added also
    // reads calls opened by any other marker.
    void add(std::set<std::string> start_markers, std::unique_ptr<ToolCallSyntax> syntax) {
        choices_.emplace_back(std::move(start_markers), std::move(syntax));
    }

    void begin(std::string_view start_marker) override {
        current_ = choices_.front().second.get();
        for (const auto & [markers, syntax] : choices_) {
            if (markers.count(std::string(start_marker))) {
                current_ = syntax.get();
            }
        }
        current_->begin(start_marker);
    }

    Step consume(std::string_view text, bool at_end, ToolCallSink & sink) override {
        return current_->consume(text, at_end, sink);
    }

private:
    std::vector<std::pair<std::set<std::string>, std::unique_ptr<ToolCallSyntax>>> choices_;
    ToolCallSyntax * current_ = nullptr;
};

}  // namespace pyllm::parse
