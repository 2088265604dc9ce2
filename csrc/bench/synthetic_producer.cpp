#include "synthetic_producer.h"

#include <time.h>

#include <chrono>
#include <string>

namespace pyllm {

SyntheticProducer::SyntheticProducer(int n_tasks) {
    for (int i = 0; i < n_tasks; ++i) {
        tasks_.push_back(std::make_shared<Task>(static_cast<uint64_t>(i + 1)));
    }
}

SyntheticProducer::~SyntheticProducer() { join(); }

void SyntheticProducer::start(int n_items, int payload_bytes, int interval_us) {
    join();
    thread_ = std::thread([this, n_items, payload_bytes, interval_us] {
        const std::string payload(static_cast<size_t>(payload_bytes), 'x');
        for (int i = 0; i < n_items; ++i) {
            for (auto & task : tasks_) queue_.notify(task, task->emit_text(payload));
            if (interval_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(interval_us));
        }
        for (auto & task : tasks_) queue_.notify(task, task->finish(FinishReason::stop));
        timespec cpu{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
        producer_cpu_seconds_ = static_cast<double>(cpu.tv_sec) + static_cast<double>(cpu.tv_nsec) * 1e-9;
    });
}

void SyntheticProducer::join() {
    if (thread_.joinable()) thread_.join();
}

}  // namespace pyllm
