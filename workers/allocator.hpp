// How the worker's heap behaves under connection churn.
#pragma once

namespace sni::worker {

// glibc malloc returns the top of the heap to the kernel (brk) as soon as it is more than
// 128 KiB free, and moves its mmap threshold as it sees large blocks: under connection churn
// (SSL objects, OpenSSL's 16 KiB record buffers, our relay buffers) the heap then shrinks and
// grows on every few connections, paying brk, TLB flushes and page faults each time.
// Keeps the memory the worker has used (it is sized by its peak load anyway).
void keep_heap_memory();

}  // namespace sni::worker
