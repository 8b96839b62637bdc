#include "workers/conn_stats.hpp"

namespace sni::worker {

namespace {

std::string or_dash(const std::string &s) {
    return s.empty() ? "-" : s;
}

}  // namespace

std::vector<log::Field> access_fields(const ConnStats &s) {
    using log::kv;
    return {
        kv("conn", s.conn_id),
        kv("route", s.route),
        kv("mode", s.mode),
        kv("client", s.client_addr),
        kv("sni", or_dash(s.sni)),
        kv("alpn_offered", or_dash(s.offered_alpn)),
        kv("alpn", or_dash(s.client.alpn)),
        kv("client_version", or_dash(s.client.version)),
        kv("client_cipher", or_dash(s.client.cipher)),
        kv("backend", or_dash(s.backend_addr)),
        kv("attempts", s.connect_attempts),
        kv("backend_version", or_dash(s.backend.version)),
        kv("backend_cipher", or_dash(s.backend.cipher)),
        kv("backend_alpn", or_dash(s.backend.alpn)),
        kv("backend_resumed", s.backend.resumed),
        kv("ktls_client_tx", s.client.ktls.tx),
        kv("ktls_client_rx", s.client.ktls.rx),
        kv("ktls_backend_tx", s.backend.ktls.tx),
        kv("ktls_backend_rx", s.backend.ktls.rx),
        kv("splice_up", s.splice_up),
        kv("splice_down", s.splice_down),
        kv("bytes_up", s.bytes_up),
        kv("bytes_down", s.bytes_down),
        kv("client_end", or_dash(s.client_end)),
        kv("backend_end", or_dash(s.backend_end)),
        kv("duration_ms", s.duration_ms),
        kv("result", s.error ? "error" : "ok"),
        kv("reason", s.reason),
    };
}

}  // namespace sni::worker
