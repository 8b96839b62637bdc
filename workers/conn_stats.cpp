#include "workers/conn_stats.hpp"

namespace sni::worker {

namespace {

void fill_leg(conn_report::LegInfo &out, const LegTls &leg) {
    out.version.set(leg.version);
    out.cipher.set(leg.cipher);
    out.ktls_tx = leg.ktls.tx ? 1 : 0;
    out.ktls_rx = leg.ktls.rx ? 1 : 0;
}

}  // namespace

conn_report::Report make_report(const ConnStats &s, conn_report::Event event) {
    conn_report::Report r;
    r.event = event;
    r.reason =
        event == conn_report::Event::kClosed ? s.close_reason : conn_report::CloseReason::kNone;
    r.backend_server = s.backend_server;
    r.conn_id = s.conn_id;
    r.route_id = s.route_id;
    r.listener_id = s.listener_id;
    fill_leg(r.client, s.client);
    fill_leg(r.backend, s.backend);
    r.alpn.set(s.client.alpn);
    r.client_addr.set(s.client_addr);
    r.backend_addr.set(s.backend_addr);
    r.bytes_up = s.bytes_up;
    r.bytes_down = s.bytes_down;
    r.accepted_ns = s.accepted_ns;
    r.backend_connected_us = s.backend_connected_us;
    r.client_handshake_us = s.client_handshake_us;
    r.duration_us = s.duration_us;
    r.failed_servers = s.failed_servers;
    r.ejected_servers = s.ejected_servers;
    return r;
}

}  // namespace sni::worker
