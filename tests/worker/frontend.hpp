// The daemon's part, played by the test: a loopback listener; for each client it accepts the
// connection, reads its ClientHello (until sni::ClientHelloParser says the records are
// complete) and sends the handoff (fd + bytes + facts) to the worker with send_handoff.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/clienthello.hpp"
#include "common/fd.hpp"

namespace sni::wtest {

using namespace std::chrono_literals;

class Frontend {
  public:
    Frontend();
    std::uint16_t port() const { return port_; }

    // Accepts one client and hands it to the worker behind `channel` for `route_id`. Returns
    // "" on success, else what went wrong. `facts` receives the parser's result.
    std::string accept_and_handoff(int channel, std::uint32_t route_id, ch_info *facts = nullptr,
                                   std::chrono::milliseconds timeout = 10s);

  private:
    UniqueFd listen_;
    std::uint16_t port_ = 0;
    std::uint64_t next_conn_id_ = 1;
    ClientHelloParser parser_{CH_MAX_CAP};
};

// A 127.0.0.1 port that is bound but not listening while this object lives: connecting to it
// is refused, and no one else can take the port meanwhile.
class RefusedPort {
  public:
    RefusedPort();
    std::uint16_t port() const { return port_; }

  private:
    UniqueFd fd_;
    std::uint16_t port_ = 0;
};

// A 127.0.0.1 port whose listener never accepts and whose accept queue is full: a connect to
// it hangs (its SYNs are dropped) until the connecting side gives up.
class BlackholePort {
  public:
    BlackholePort();
    std::uint16_t port() const { return port_; }

  private:
    UniqueFd listen_;
    std::vector<UniqueFd> fillers_;
    std::uint16_t port_ = 0;
};

}  // namespace sni::wtest
