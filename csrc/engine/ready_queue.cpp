#include "ready_queue.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

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

}  // namespace pyllm
