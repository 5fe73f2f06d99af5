// std::condition_variable under the shim: libstdc++ calls pthread_cond_wait, and (since GCC 10,
// on glibc >= 2.30) pthread_cond_clockwait for waits on std::chrono::steady_clock.
// Producers and consumers with exact counts, notify_all to stop, timeouts never early.
//
// usage: condvar PRODUCERS CONSUMERS ITEMS_PER_PRODUCER

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);      \
            std::exit(1);                                                                      \
        }                                                                                      \
    } while (0)

using steady = std::chrono::steady_clock;
using system_clock = std::chrono::system_clock;
using namespace std::chrono_literals;

int main(int argc, char **argv)
{
    CHECK(argc == 4);
    const int np = std::atoi(argv[1]), nc = std::atoi(argv[2]);
    const std::uint64_t items = std::strtoull(argv[3], nullptr, 10);

    std::mutex m;
    std::condition_variable not_empty, not_full;
    std::deque<std::uint64_t> q;
    bool done = false;
    std::uint64_t sum = 0, count = 0;

    std::vector<std::thread> threads;
    for (int c = 0; c < nc; c++) {
        threads.emplace_back([&, c] {
            std::unique_lock<std::mutex> lk(m);
            for (;;) {
                // Alternate the clocks: steady_clock waits go through pthread_cond_clockwait,
                // system_clock ones through pthread_cond_timedwait, plain ones through _wait.
                if (c % 3 == 0) {
                    while (q.empty() && !done)
                        not_empty.wait_for(lk, 10s);
                } else if (c % 3 == 1) {
                    while (q.empty() && !done)
                        not_empty.wait_until(lk, system_clock::now() + 10s);
                } else {
                    not_empty.wait(lk, [&] { return !q.empty() || done; });
                }
                if (q.empty())
                    return;
                sum += q.front();
                count++;
                q.pop_front();
                not_full.notify_one();
            }
        });
    }
    std::vector<std::thread> producers;
    for (int p = 0; p < np; p++) {
        producers.emplace_back([&, p] {
            for (std::uint64_t i = 1; i <= items; i++) {
                std::unique_lock<std::mutex> lk(m);
                not_full.wait_for(lk, 10s, [&] { return q.size() < 16; });
                q.push_back(static_cast<std::uint64_t>(p) * items + i);
                not_empty.notify_one();
            }
        });
    }
    for (auto &t : producers)
        t.join();
    {
        std::lock_guard<std::mutex> lk(m);
        done = true;
    }
    not_empty.notify_all();
    for (auto &t : threads)
        t.join();

    std::uint64_t want = 0;
    for (int p = 0; p < np; p++)
        want += static_cast<std::uint64_t>(p) * items * items + items * (items + 1) / 2;
    CHECK(count == static_cast<std::uint64_t>(np) * items);
    CHECK(sum == want);

    // Timeouts with nobody notifying: never before the deadline, on either clock.
    std::unique_lock<std::mutex> lk(m);
    for (int i = 0; i < 20; i++) {
        auto d1 = steady::now() + 2ms;
        CHECK(not_full.wait_until(lk, d1) == std::cv_status::timeout);
        CHECK(steady::now() >= d1);
        auto d2 = system_clock::now() + 2ms;
        CHECK(not_full.wait_until(lk, d2) == std::cv_status::timeout);
        CHECK(system_clock::now() >= d2);
    }
    std::printf("condvar: %llu items, sum %llu\n", static_cast<unsigned long long>(count),
                static_cast<unsigned long long>(sum));
    return 0;
}
