// The only native->Python wake-up channel. Tasks consumed by asyncio are "watched"; when a
// watched task's output queue goes from empty to non-empty (or it finishes), the task joins
// the ready list, and one byte is written to a pipe only when that list was empty. The event
// loop's reader then takes the whole list in one call: one wake-up per batch, no GIL on the
// producer side.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "task.h"

namespace pyllm {

class ReadyQueue {
public:
    ReadyQueue();
    ~ReadyQueue();
    ReadyQueue(const ReadyQueue &) = delete;
    ReadyQueue & operator=(const ReadyQueue &) = delete;

    int fd() const { return read_fd_; }
    // Producer side: call with what Task::emit_text / Task::finish returned.
    void notify(const std::shared_ptr<Task> & task, bool queue_became_nonempty);
    // Marks a task for fd wake-ups, and wakes at once in case it already has output.
    void watch(const std::shared_ptr<Task> & task);
    // Consumer side: clears the pipe and returns every watched task with news.
    std::vector<std::shared_ptr<Task>> drain();

private:
    std::mutex mu_;
    std::vector<std::shared_ptr<Task>> ready_;
    int read_fd_ = -1, write_fd_ = -1;
};

}  // namespace pyllm
