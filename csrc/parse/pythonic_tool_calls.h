// Pythonic tool calls (Llama 3.2 / 4): a Python list of calls with keyword arguments,
//   [get_weather(city='Paris', unit="c"), search(query='x', filters={'max': 3, 'tags': ['a']})]
// optionally between <|python_start|> and <|python_end|>. The arguments are rewritten as JSON
// while they stream: strings (either quote, Python escapes) escaped as they arrive, True /
// False / None as JSON, dicts, lists and tuples nested, a bare scalar checked at its end (one
// that is not JSON becomes a string), and a call that stops making sense is closed where it
// stands, so the arguments are always JSON.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "tool_call_syntax.h"

namespace pyllm::parse {

class PythonicToolCalls : public ToolCallSyntax {
public:
    // `list_marker`: the start marker that is the list's own "["; after any other start
    // marker (`<|python_start|>`) the "[" follows, and `end_marker` may follow the list.
    PythonicToolCalls(std::set<std::string> declared_tools, std::string list_marker, std::string end_marker);

    void begin(std::string_view start_marker) override;
    Step consume(std::string_view text, bool at_end, ToolCallSink & sink) override;

private:
    enum class Stage {
        list_open,    // the "[" after a wrapping marker
        call_name,    // NAME( of the next call
        kwarg,        // a keyword argument's name up to '=', or the call's ')'
        value,        // the start of a value
        string,       // inside a quoted string
        scalar,       // a bare number, True, False or None, up to what ends it
        after_value,  // ',', ':' after a dict key, or a container's close
        after_call,   // ',' and another call, or the list's ']'
        end_marker,   // the wrapping end marker, if written
    };

    // Bytes of `text` a call's `NAME(` takes (0: wait for more, npos: not a call).
    static size_t match_call_name(std::string_view text, std::string & name);
    // Emits what goes in front of the next member or element (a ',' seen before it).
    void separate(ToolCallSink & sink);
    void open(char container, ToolCallSink & sink);
    void close_container(ToolCallSink & sink);
    void end_scalar(ToolCallSink & sink);
    // The arguments cannot be read on: whatever is open is closed as valid JSON.
    void close_all(ToolCallSink & sink);

    std::set<std::string> declared_;
    std::string list_marker_;
    std::string end_marker_;
    bool wrapped_ = false;
    Stage stage_ = Stage::list_open;
    size_t calls_ = 0;        // calls started in this list
    // Containers open in the current call: 'c' the call itself (a JSON object), '{' a dict,
    // '[' a list, 't' a tuple (a JSON array).
    std::vector<char> open_;
    std::string pending_;     // a bare scalar read so far
    char quote_ = '\'';
    bool comma_ = false;      // a ',' was read and not written yet
    bool dict_key_ = false;   // the value being read is a dict's key
    bool awaiting_value_ = false;  // a key was written and its value not begun
};

}  // namespace pyllm::parse
