// Feeds synthetic payloads to tasks through a ReadyQueue from a native thread, exactly as the
// scheduler does; the bridge benchmark (python -m pyllm.bench bridge) and the streaming tests
// measure and exercise delivery with it, without a model. Part of the pyllm._bench module,
// kept out of _core (the module a server loads).
#pragma once

#include <memory>
#include <thread>
#include <vector>

#include "engine/ready_queue.h"
#include "engine/task.h"

namespace pyllm {

class SyntheticProducer {
public:
    explicit SyntheticProducer(int n_tasks);
    ~SyntheticProducer();

    const std::vector<std::shared_ptr<Task>> & tasks() const { return tasks_; }
    ReadyQueue & queue() { return queue_; }
    // Starts a thread that emits n_items payloads of payload_bytes to every task, round
    // robin, sleeping interval_us after each round (0: as fast as possible), then finishes them.
    void start(int n_items, int payload_bytes, int interval_us);
    void join();
    // CPU time the producer thread used, so a benchmark can leave it out.
    double producer_cpu_seconds() const { return producer_cpu_seconds_; }

private:
    ReadyQueue queue_;
    std::vector<std::shared_ptr<Task>> tasks_;
    std::thread thread_;
    double producer_cpu_seconds_ = 0;
};

}  // namespace pyllm
