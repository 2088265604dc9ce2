#include "engine/chat_request.h"

#include "engine/task.h"
#include "errors.h"
#include "model.h"

namespace pyllm {

namespace {

common_grammar_trigger_type trigger_type(const std::string & name) {
    if (name == "word") return COMMON_GRAMMAR_TRIGGER_TYPE_WORD;
    if (name == "pattern") return COMMON_GRAMMAR_TRIGGER_TYPE_PATTERN;
    if (name == "pattern_full") return COMMON_GRAMMAR_TRIGGER_TYPE_PATTERN_FULL;
    if (name == "token") return COMMON_GRAMMAR_TRIGGER_TYPE_TOKEN;
    throw InvalidRequestError("unknown grammar trigger type '" + name + "' (word, pattern, pattern_full or token)");
}

}  // namespace

TaskParams task_params(const Model & model, const SamplingParams & in) {
    TaskParams p;
    p.max_tokens = in.max_tokens;
    auto & s = p.sampling;
    s.temp = in.temperature;
    s.top_p = in.top_p;
    s.top_k = in.top_k;
    s.min_p = in.min_p;
    if (in.seed) s.seed = *in.seed;
    s.penalty_repeat = in.repeat_penalty;
    s.penalty_last_n = in.repeat_last_n;
    s.penalty_present = in.presence_penalty;
    s.penalty_freq = in.frequency_penalty;
    for (auto [tok, bias] : in.logit_bias) s.logit_bias.push_back({tok, bias});
    s.ignore_eos = in.ignore_eos;
    s.n_probs = in.n_probs;
    s.reasoning_budget_tokens = in.reasoning_budget_tokens;
    if (!in.grammar.empty()) s.grammar = common_grammar(COMMON_GRAMMAR_TYPE_USER, in.grammar);
    s.grammar_lazy = in.grammar_lazy;
    for (const auto & [type, value] : in.grammar_triggers) {
        common_grammar_trigger trig{trigger_type(type), value, LLAMA_TOKEN_NULL};
        if (trig.type == COMMON_GRAMMAR_TRIGGER_TYPE_TOKEN) {
            auto ids = model.tokenize(value, false, true);
            if (ids.size() != 1) throw InvalidRequestError("token trigger '" + value + "' is not a single token");
            trig.token = ids[0];
        }
        s.grammar_triggers.push_back(std::move(trig));
    }
    p.json_schema = in.json_schema;
    p.stop = in.stop;
    p.preserved_tokens = in.preserved_tokens;
    return p;
}

}  // namespace pyllm
