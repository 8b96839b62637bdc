#include "workers/access_log.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "common/json_text.hpp"
#include "common/log.hpp"

namespace sni::worker {

namespace {

class Object {
  public:
    Object() { out_ += '{'; }
    void str(const char *key, std::string_view value) {
        this->key(key);
        json::append_string(out_, value);
    }
    // Empty -> null.
    void opt(const char *key, std::string_view value) {
        if (value.empty()) {
            this->key(key);
            out_ += "null";
        } else {
            str(key, value);
        }
    }
    void num(const char *key, std::uint64_t value) {
        this->key(key);
        out_ += std::to_string(value);
    }
    void num(const char *key, std::int64_t value) {
        this->key(key);
        out_ += std::to_string(value);
    }
    // Microseconds as milliseconds with 3 decimals; 0 (never happened) -> null.
    void ms(const char *key, std::uint64_t us) {
        this->key(key);
        if (us == 0) {
            out_ += "null";
            return;
        }
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(us) / 1000.0);
        out_ += buf;
    }
    void boolean(const char *key, bool value) {
        this->key(key);
        out_ += value ? "true" : "false";
    }
    std::string finish() {
        out_ += "}\n";
        return std::move(out_);
    }

  private:
    void key(const char *k) {
        if (out_.size() > 1) out_ += ',';
        json::append_string(out_, k);
        out_ += ':';
    }
    std::string out_;
};

}  // namespace

std::string access_json(const ConnStats &s, std::chrono::system_clock::time_point now) {
    Object o;
    std::string time;
    log::append_timestamp(time, now);
    o.str("time", time);
    o.num("conn", s.conn_id);
    o.str("listener", s.listener);
    o.str("route", s.route);
    o.str("mode", s.mode);
    o.str("client", s.client_addr);
    o.opt("sni", s.sni);
    o.opt("alpn_offered", s.offered_alpn);
    o.opt("alpn", s.client.alpn);
    o.opt("client_version", s.client.version);
    o.opt("client_cipher", s.client.cipher);
    o.opt("backend", s.backend_addr);
    o.num("attempts", static_cast<std::uint64_t>(s.connect_attempts));
    o.opt("backend_version", s.backend.version);
    o.opt("backend_cipher", s.backend.cipher);
    o.opt("backend_alpn", s.backend.alpn);
    o.boolean("backend_resumed", s.backend.resumed);
    o.boolean("ktls_client_tx", s.client.ktls.tx);
    o.boolean("ktls_client_rx", s.client.ktls.rx);
    o.boolean("ktls_backend_tx", s.backend.ktls.tx);
    o.boolean("ktls_backend_rx", s.backend.ktls.rx);
    o.boolean("splice_up", s.splice_up);
    o.boolean("splice_down", s.splice_down);
    o.boolean("kernel_relay", s.kernel_relay);
    o.num("bytes_up", s.bytes_up);
    o.num("bytes_down", s.bytes_down);
    o.opt("client_end", s.client_end);
    o.opt("backend_end", s.backend_end);
    o.ms("time_to_backend_ms", s.backend_connected_us);
    o.ms("client_handshake_ms", s.client_handshake_us);
    o.num("duration_ms", s.duration_ms);
    o.str("outcome", s.error ? "error" : "ok");
    o.str("close_reason", conn_report::close_reason_name(s.close_reason));
    o.str("reason", s.reason);
    return o.finish();
}

void AccessLogSink::write(const std::string &line) const {
    std::size_t done = 0;
    while (done < line.size()) {
        const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
        if (n > 0) {
            done += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        return;  // a broken log target must not stop the worker
    }
}

}  // namespace sni::worker
