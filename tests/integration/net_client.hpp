// Raw TCP client helpers (blocking sockets, poll-based timeouts).
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>

#include "common/fd.hpp"
#include "hello_builder.hpp"

namespace sni::itest {

// Connects to host ("127.0.0.1", "::1") : port with TCP_NODELAY. Invalid fd on failure.
UniqueFd connect_tcp(const std::string &host, std::uint16_t port);

bool send_all(int fd, std::span<const std::uint8_t> bytes);

struct ReadResult {
    Bytes data;
    bool closed = false;     // EOF or reset seen
    bool reset = false;      // ECONNRESET
    bool timed_out = false;  // the deadline passed first
};

// Reads until `want` bytes arrived, the peer closed, or `timeout`.
ReadResult read_exactly(int fd, std::size_t want, std::chrono::milliseconds timeout);

// Reads until the peer closes (or `timeout`).
ReadResult read_until_close(int fd, std::chrono::milliseconds timeout);

// "15 03 01 00 02 02 70"
std::string hex(std::span<const std::uint8_t> bytes);

}  // namespace sni::itest
