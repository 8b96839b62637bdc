// The daemon's single epoll instance. Every registration carries a Token: what kind of object
// the fd belongs to and that object's id. Ids are never reused, so an event that arrives for an
// object closed earlier in the same batch finds nothing and is ignored.
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <span>
#include <string>

#include "common/config_result.hpp"
#include "common/fd.hpp"

namespace sni::loader {

enum class TokenKind : std::uint8_t {
    kListener = 1,   // id: index of the listening socket
    kConnection,     // id: connection id
    kListenerTimer,  // id: listener id (its client_hello_timeout FIFO)
    kSignal,         // the signalfd
    kSteering,       // the BPF ring buffer
    kChannel,        // id: worker channel id
    kPoolTimer,      // worker restarts
    kHousekeeping,   // periodic chores
    kHttpListener,   // the metrics/health endpoint's listening socket
    kHttpClient,     // id: metrics endpoint client id
    kControl,        // the control socket's listener
    kControlClient,  // id: control client id
    kConfigWatch,    // id 0: the inotify fd, id 1: its debounce timer (--watch)
    kAddressWatch,   // id 0: the rtnetlink subscription, id 1: its debounce timer
};

struct Token {
    TokenKind kind;
    std::uint64_t id = 0;  // < 2^56

    std::uint64_t encode() const { return (std::uint64_t(kind) << 56) | (id & kIdMask); }
    static Token decode(std::uint64_t v) { return {static_cast<TokenKind>(v >> 56), v & kIdMask}; }
    static constexpr std::uint64_t kIdMask = (std::uint64_t(1) << 56) - 1;
};

class EventLoop {
  public:
    static config::Result<EventLoop, std::string> create();

    // Errors are returned as errno values (0 = success).
    int add(int fd, std::uint32_t events, Token token);
    int modify(int fd, std::uint32_t events, Token token);
    void remove(int fd);

    // epoll_wait; EINTR is reported as 0 events.
    int wait(std::span<epoll_event> events, int timeout_ms);

  private:
    explicit EventLoop(UniqueFd fd) : epfd_(std::move(fd)) {}
    UniqueFd epfd_;
};

}  // namespace sni::loader
