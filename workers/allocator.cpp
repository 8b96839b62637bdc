#include "workers/allocator.hpp"

#include <malloc.h>

namespace sni::worker {

void keep_heap_memory() {
    constexpr int kTrimThreshold = 256 * 1024 * 1024;  // never give the heap top back under churn
    constexpr int kTopPad = 4 * 1024 * 1024;           // grow the heap in 4 MiB steps
    constexpr int kMmapThreshold = 1024 * 1024;        // fixed: blocks below 1 MiB stay on the heap
    ::mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
    ::mallopt(M_TOP_PAD, kTopPad);
    ::mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
}

}  // namespace sni::worker
