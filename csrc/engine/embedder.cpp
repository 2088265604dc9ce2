#include "embedder.h"

#include <algorithm>
#include <cstdlib>

#include "common.h"
#include "errors.h"
#include "model.h"

namespace pyllm {

const char * pooling_name(enum llama_pooling_type pooling) {
    switch (pooling) {
        case LLAMA_POOLING_TYPE_UNSPECIFIED: return "unspecified";
        case LLAMA_POOLING_TYPE_NONE: return "none";
        case LLAMA_POOLING_TYPE_MEAN: return "mean";
        case LLAMA_POOLING_TYPE_CLS: return "cls";
        case LLAMA_POOLING_TYPE_LAST: return "last";
        case LLAMA_POOLING_TYPE_RANK: return "rank";
    }
    return "unspecified";
}

enum llama_pooling_type pooling_from_name(const std::string & name) {
    if (name == "mean") return LLAMA_POOLING_TYPE_MEAN;
    if (name == "cls") return LLAMA_POOLING_TYPE_CLS;
    if (name == "last") return LLAMA_POOLING_TYPE_LAST;
    if (name == "rank") return LLAMA_POOLING_TYPE_RANK;
    throw InvalidRequestError("unknown pooling '" + name + "' (mean, cls, last or rank)");
}

namespace {

// The pooling the GGUF names (`<arch>.pooling_type`), or mean: llama.cpp would pool nothing
// for a generative model, whose GGUF names none, and a sentence vector is what is asked for.
enum llama_pooling_type model_pooling(const Model & model) {
    const std::string key = model.architecture() + ".pooling_type";
    char value[16];
    if (llama_model_meta_val_str(model.get(), key.c_str(), value, sizeof value) > 0) {
        const int type = std::atoi(value);
        if (type > LLAMA_POOLING_TYPE_NONE && type <= LLAMA_POOLING_TYPE_RANK) return static_cast<enum llama_pooling_type>(type);
    }
    return LLAMA_POOLING_TYPE_MEAN;
}

}  // namespace

EmbeddingRequest::EmbeddingRequest(std::shared_ptr<Task> completion, std::vector<std::vector<llama_token>> inputs,
                                   int n_dims, bool normalize)
    : completion_(std::move(completion)), inputs_(std::move(inputs)), n_dims_(n_dims), normalize_(normalize) {
    for (const auto & input : inputs_) n_tokens_ += static_cast<int64_t>(input.size());
    vectors_.resize(inputs_.size() * static_cast<size_t>(n_dims_));
}

std::vector<int32_t> EmbeddingRequest::input_lengths() const {
    std::vector<int32_t> out;
    out.reserve(inputs_.size());
    for (const auto & input : inputs_) out.push_back(static_cast<int32_t>(input.size()));
    return out;
}

std::vector<float> EmbeddingRequest::take_vectors() {
    if (completion_->finish_reason() != FinishReason::stop) return {};
    return std::move(vectors_);
}

Embedder::Embedder(std::shared_ptr<const Model> model, const EmbedderOptions & options)
    : model_(std::move(model)), options_(options) {
    if (model_->vocab_only()) throw InvalidRequestError("cannot embed with a vocab-only model: load the weights");
    if (options_.n_batch < 1) throw InvalidRequestError("n_batch must be at least 1");
    if (options_.n_seq_max < 0) throw InvalidRequestError("n_seq_max must not be negative");
    if (options_.max_queued < 1) throw InvalidRequestError("max_queued must be at least 1");
    if (options_.pooling == LLAMA_POOLING_TYPE_NONE) {
        throw InvalidRequestError("pooling 'none' gives a vector per token, not per input: use mean, cls, last or rank");
    }
    pooling_ = options_.pooling == LLAMA_POOLING_TYPE_UNSPECIFIED ? model_pooling(*model_) : options_.pooling;
    // Absolute position embeddings (BERT) have no row past the training context.
    options_.n_batch = std::min(options_.n_batch, std::max(1, model_->n_ctx_train()));
    const int max_seq = static_cast<int>(llama_max_parallel_sequences());
    const int n_seq_max = std::min(options_.n_seq_max > 0 ? options_.n_seq_max : max_seq,
                                   std::min(max_seq, options_.n_batch));
    options_.n_seq_max = n_seq_max;

    llama_context_params cp = llama_context_default_params();
    // Every decode starts from an empty memory, so the context only has to hold one batch.
    cp.n_ctx = static_cast<uint32_t>(options_.n_batch);
    cp.n_batch = static_cast<uint32_t>(options_.n_batch);
    cp.n_ubatch = static_cast<uint32_t>(options_.n_batch);  // a sequence is pooled within one micro-batch
    cp.n_seq_max = static_cast<uint32_t>(n_seq_max);
    const int n_threads = options_.n_threads > 0 ? options_.n_threads : common_cpu_get_num_math();
    cp.n_threads = n_threads;
    cp.n_threads_batch = n_threads;
    cp.flash_attn_type = static_cast<llama_flash_attn_type>(options_.flash_attn);
    cp.embeddings = true;
    cp.pooling_type = pooling_;
    cp.kv_unified = true;  // all sequences of a batch in one buffer: one micro-batch for all of them
    cp.no_perf = true;
    ctx_ = llama_init_from_model(const_cast<llama_model *>(model_->get()), cp);
    if (!ctx_) throw std::runtime_error("llama.cpp could not create an embeddings context (out of memory?)");
    n_dims_ = pooling_ == LLAMA_POOLING_TYPE_RANK ? static_cast<int>(llama_model_n_cls_out(model_->get()))
                                                  : llama_model_n_embd_out(model_->get());
    batch_ = llama_batch_init(options_.n_batch, 0, 1);
    thread_ = std::thread([this] { run(); });
}

Embedder::~Embedder() {
    shutdown();
    llama_batch_free(batch_);
    llama_free(ctx_);
}

void Embedder::shutdown() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_ && !thread_.joinable()) return;
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    std::deque<std::shared_ptr<EmbeddingRequest>> left;
    {
        std::lock_guard<std::mutex> lock(mu_);
        left.swap(pending_);
    }
    for (auto & request : left) finish(request, FinishReason::cancelled, "embedder shut down");
}

std::shared_ptr<EmbeddingRequest> Embedder::submit(std::vector<std::vector<llama_token>> inputs, bool normalize,
                                                   bool truncate) {
    if (inputs.empty()) throw InvalidRequestError("no inputs to embed");
    const int n_vocab = model_->n_vocab();
    const size_t max_tokens = static_cast<size_t>(max_input_tokens());
    for (size_t i = 0; i < inputs.size(); ++i) {
        auto & input = inputs[i];
        if (input.empty()) throw InvalidRequestError("input " + std::to_string(i) + " is empty");
        for (llama_token t : input) {
            if (t < 0 || t >= n_vocab) {
                throw InvalidRequestError("input " + std::to_string(i) + " has token " + std::to_string(t) +
                                          " outside the vocabulary");
            }
        }
        if (input.size() > max_tokens) {
            if (!truncate) throw ContextOverflowError(static_cast<int>(input.size()), max_input_tokens());
            input.resize(max_tokens);
        }
    }
    std::shared_ptr<EmbeddingRequest> request;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) throw EngineOverloadedError("the embedder is shutting down");
        if (unfinished_ >= options_.max_queued) {
            throw EngineOverloadedError(std::to_string(unfinished_) + " embedding requests are unfinished (the limit)");
        }
        auto completion = std::make_shared<Task>(next_id_++);
        request = std::make_shared<EmbeddingRequest>(std::move(completion), std::move(inputs), n_dims_,
                                                     normalize && pooling_ != LLAMA_POOLING_TYPE_RANK);
        pending_.push_back(request);
        ++unfinished_;
    }
    cv_.notify_one();
    return request;
}

std::shared_ptr<EmbeddingRequest> Embedder::submit_texts(const std::vector<std::string> & texts, bool normalize,
                                                         bool truncate) {
    std::vector<std::vector<llama_token>> inputs;
    inputs.reserve(texts.size());
    for (const auto & text : texts) inputs.push_back(model_->tokenize(text, true, true));
    return submit(std::move(inputs), normalize, truncate);
}

EmbedderStats Embedder::stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    EmbedderStats s = totals_;
    s.queued = unfinished_;
    return s;
}

void Embedder::finish(const std::shared_ptr<EmbeddingRequest> & request, FinishReason reason, std::string error) {
    const auto & task = request->completion();
    ready_.notify(task, task->finish(reason, {}, std::move(error)));
    std::lock_guard<std::mutex> lock(mu_);
    --unfinished_;
    ++totals_.requests;
}

void Embedder::run() {
    std::vector<Sequence> sequences;
    while (take_pending()) {
        sequences.clear();
        fill_batch(sequences);
        if (!sequences.empty()) decode(sequences);
    }
    for (auto & request : active_) finish(request, FinishReason::cancelled, "embedder shut down");
    active_.clear();
}

bool Embedder::take_pending() {
    {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !pending_.empty() || !active_.empty(); });
        if (stopping_) return false;
        while (!pending_.empty()) {
            active_.push_back(std::move(pending_.front()));
            pending_.pop_front();
        }
    }
    // Requests whose clients left end here, between two decodes.
    for (auto it = active_.begin(); it != active_.end();) {
        if ((*it)->completion()->cancel_requested()) {
            finish(*it, FinishReason::cancelled);
            it = active_.erase(it);
        } else {
            ++it;
        }
    }
    return true;
}

void Embedder::fill_batch(std::vector<Sequence> & sequences) {
    // One input from each request in turn: a short request next to a long one is done
    // within a batch or two instead of after it.
    batch_.n_tokens = 0;
    const size_t n_seq_max = static_cast<size_t>(options_.n_seq_max);
    bool added = true;
    while (added) {
        added = false;
        for (auto & request : active_) {
            if (request->next_input_ == request->inputs_.size()) continue;
            const auto & input = request->inputs_[request->next_input_];
            if (batch_.n_tokens + static_cast<int>(input.size()) > options_.n_batch || sequences.size() == n_seq_max) {
                return;
            }
            const auto seq = static_cast<llama_seq_id>(sequences.size());
            for (size_t pos = 0; pos < input.size(); ++pos) {
                const int i = batch_.n_tokens++;
                batch_.token[i] = input[pos];
                batch_.pos[i] = static_cast<llama_pos>(pos);
                batch_.n_seq_id[i] = 1;
                batch_.seq_id[i][0] = seq;
                batch_.logits[i] = true;  // pooling reads every token's output
            }
            if (request->next_input_ == 0) request->completion()->set_admitted(0);
            sequences.push_back({request, request->next_input_++});
            added = true;
        }
    }
}

void Embedder::decode(const std::vector<Sequence> & sequences) {
    if (llama_memory_t mem = llama_get_memory(ctx_)) llama_memory_clear(mem, true);
    const int32_t rc = llama_decode(ctx_, batch_);
    std::vector<std::shared_ptr<EmbeddingRequest>> failed;
    uint64_t n_inputs = 0;
    for (size_t s = 0; s < sequences.size(); ++s) {
        const auto & [request, input] = sequences[s];
        const float * pooled = rc == 0 ? llama_get_embeddings_seq(ctx_, static_cast<llama_seq_id>(s)) : nullptr;
        if (!pooled) {
            if (std::find(failed.begin(), failed.end(), request) == failed.end()) failed.push_back(request);
            continue;
        }
        float * row = request->vectors_.data() + input * static_cast<size_t>(n_dims_);
        common_embd_normalize(pooled, row, n_dims_, request->normalize_ ? 2 : -1);
        ++request->n_embedded_;
        ++n_inputs;
    }
    {
        std::lock_guard<std::mutex> lock(mu_);
        ++totals_.decode_calls;
        totals_.inputs += n_inputs;
        totals_.tokens += static_cast<uint64_t>(batch_.n_tokens);
    }
    const std::string why = rc == 0 ? "llama.cpp returned no pooled embedding"
                                    : "llama_decode failed (code " + std::to_string(rc) + ")";
    for (auto it = active_.begin(); it != active_.end();) {
        auto & request = *it;
        if (std::find(failed.begin(), failed.end(), request) != failed.end()) {
            finish(request, FinishReason::error, why);
        } else if (request->n_embedded_ == request->inputs_.size()) {
            finish(request, FinishReason::stop);
        } else {
            ++it;
            continue;
        }
        it = active_.erase(it);
    }
}

}  // namespace pyllm
