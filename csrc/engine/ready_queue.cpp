#include "ready_queue.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <time.h>

namespace pyllm {

ReadyQueue::ReadyQueue() {
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    read_fd_ = fds[0];
    write_fd_ = fds[1];
    for (int fd : fds) {
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
}

ReadyQueue::~ReadyQueue() {
    close(read_fd_);
    close(write_fd_);
}

void ReadyQueue::notify(const std::shared_ptr<Task> & task, bool queue_became_nonempty) {
    if (!queue_became_nonempty || !task->notify_fd.load()) return;
    if (task->in_ready_list.exchange(true)) return;
    bool was_empty;
    {
        std::lock_guard<std::mutex> lock(mu_);
        was_empty = ready_.empty();
        ready_.push_back(task);
    }
    if (was_empty) {
        const char byte = 1;
        // A full pipe already holds an unread wake-up; nothing is lost.
        [[maybe_unused]] ssize_t n = write(write_fd_, &byte, 1);
    }
}

void ReadyQueue::watch(const std::shared_ptr<Task> & task) {
    task->notify_fd.store(true);
    notify(task, true);
}

std::vector<std::shared_ptr<Task>> ReadyQueue::drain() {
    char buf[256];
    while (read(read_fd_, buf, sizeof buf) > 0) {
    }
    std::vector<std::shared_ptr<Task>> out;
    {
        std::lock_guard<std::mutex> lock(mu_);
        out.swap(ready_);
    }
    // Cleared before the consumer takes the items: output emitted from here on re-queues.
    for (auto & task : out) task->in_ready_list.store(false);
    return out;
}

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
