// The typed configuration model: plain, copyable, comparable values (a reload diffs two of
// these). Defaults here are the documented defaults (docs/config.md). Paths are already
// resolved against the config file's directory. Server names are normalized (lowercase, no
// trailing dot).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sni::config {

using Duration = std::chrono::milliseconds;

enum class TlsVersion : std::uint8_t { kTls1_0, kTls1_1, kTls1_2, kTls1_3 };
enum class UnknownSni : std::uint8_t { kDefault, kReject };
enum class RouteMode : std::uint8_t { kReencrypt, kTerminate, kPassthrough };
enum class Balance : std::uint8_t { kRoundRobin, kLeastConn };
enum class ProxyProtocol : std::uint8_t { kNone, kV2 };
enum class HealthCheckType : std::uint8_t { kTcp, kTls };
enum class Classifier : std::uint8_t { kAuto, kBpf, kUserspace };
// How passthrough bytes move: kernel relay (sockmap redirect) when available, or always splice.
enum class PassthroughRelay : std::uint8_t { kAuto, kSockmap, kSplice };
enum class BackendSni : std::uint8_t { kNone, kFixed, kClient };  // kClient = "$client"
enum class BackendAlpn : std::uint8_t { kForward, kList };        // kList + empty list = no ALPN
enum class AccessLogTarget : std::uint8_t { kStderr, kFile, kOff };

enum class AddressKind : std::uint8_t {
    kIpv4,
    kIpv6,
    kInterface,  // bind only: an interface name, resolved by the daemon via netlink
    kHostname,   // backend servers only: resolved by the worker
};

struct SocketAddress {
    AddressKind kind = AddressKind::kIpv4;
    std::string host;  // canonical IP text without brackets, interface name, or lowercase host
    std::uint16_t port = 0;

    bool operator==(const SocketAddress &) const = default;
};

struct CertificateFiles {
    std::string cert;
    std::string key;
    std::string ocsp;  // DER OCSP response to staple; "" = none

    bool operator==(const CertificateFiles &) const = default;
};

// Client side of a route: the TLS the worker terminates (reencrypt and terminate modes).
struct ClientTls {
    std::vector<CertificateFiles> certificates;  // at least one
    TlsVersion min_version = TlsVersion::kTls1_2;
    TlsVersion max_version = TlsVersion::kTls1_3;
    std::optional<int> security_level;  // nullopt = OpenSSL's default
    std::string ciphers;                // TLS 1.2 and lower cipher list; "" = OpenSSL default
    std::string ciphersuites;           // TLS 1.3 suites; "" = kDefaultCiphersuites (worker)
    std::vector<std::string> alpn;      // offered to clients, in preference order; {} = no ALPN
    bool session_tickets = true;

    bool operator==(const ClientTls &) const = default;
};

struct BackendVerify {
    bool enabled = true;  // false only for `verify: none`
    std::string ca;       // CA bundle; "" = the system trust store
    std::string name;     // name to check in the certificate; "" = the SNI sent, if any
    std::vector<std::string> pin_sha256;  // lowercase hex SHA-256 of the SubjectPublicKeyInfo
    bool cache = true;                    // remember chains that verified (workers/verify_cache)

    bool operator==(const BackendVerify &) const = default;
};

// Server side of a reencrypt route: the TLS the worker speaks to the backend.
struct BackendTls {
    BackendSni sni_mode = BackendSni::kNone;
    std::string sni;  // kFixed only
    TlsVersion min_version = TlsVersion::kTls1_2;
    TlsVersion max_version = TlsVersion::kTls1_3;
    std::optional<int> security_level;
    std::string ciphers;
    std::string ciphersuites;
    BackendVerify verify;
    std::optional<CertificateFiles> client_certificate;  // mTLS to the backend (no ocsp)
    BackendAlpn alpn_mode = BackendAlpn::kForward;
    std::vector<std::string> alpn;  // kList only
    bool session_reuse = true;      // offer the last session per server (with a backoff)

    bool operator==(const BackendTls &) const = default;
};

struct BackendServer {
    SocketAddress address;  // kIpv4, kIpv6 or kHostname
    std::uint32_t weight = 1;

    bool operator==(const BackendServer &) const = default;
};

struct HealthCheck {
    HealthCheckType type = HealthCheckType::kTcp;
    Duration interval = std::chrono::seconds(5);
    Duration timeout = std::chrono::seconds(2);
    std::uint32_t rise = 2;
    std::uint32_t fall = 3;

    bool operator==(const HealthCheck &) const = default;
};

struct Backend {
    std::vector<BackendServer> servers;  // at least one
    Balance balance = Balance::kRoundRobin;
    Duration connect_timeout = std::chrono::seconds(5);
    ProxyProtocol proxy_protocol = ProxyProtocol::kNone;
    std::optional<HealthCheck> health_check;  // nullopt = no active checks
    std::optional<BackendTls> tls;            // set exactly for mode reencrypt

    bool operator==(const Backend &) const = default;
};

struct Route {
    std::string name;
    std::string listener;
    std::vector<std::string> server_names;  // normalized: "a.b" or "*.a.b"
    RouteMode mode = RouteMode::kReencrypt;
    std::string pool = "default";
    std::optional<ClientTls> tls;  // set exactly for modes reencrypt and terminate
    Backend backend;
    Duration idle_timeout = std::chrono::seconds(300);

    bool operator==(const Route &) const = default;
};

struct Listener {
    std::string name;
    std::vector<SocketAddress> bind;  // kIpv4, kIpv6 or kInterface
    bool require_sni = false;
    UnknownSni unknown_sni = UnknownSni::kReject;  // default: kDefault iff default_route is set
    std::string default_route;                     // "" = none
    Duration client_hello_timeout = std::chrono::seconds(5);
    std::uint32_t max_client_hello = 16 * 1024;  // bytes, 512..65536

    bool operator==(const Listener &) const = default;
};

struct Pool {
    std::string name;
    std::uint32_t workers = 0;  // 0 = auto (one per CPU); else 1..256
    std::string user = "sni-splitter";

    bool operator==(const Pool &) const = default;
};

struct Control {
    std::string socket = "/run/sni-splitter/ctl.sock";

    bool operator==(const Control &) const = default;
};

struct Metrics {
    std::optional<SocketAddress> listen;  // nullopt = no metrics endpoint

    bool operator==(const Metrics &) const = default;
};

struct AccessLog {
    AccessLogTarget target = AccessLogTarget::kStderr;
    std::string path;  // kFile only; absolute

    bool operator==(const AccessLog &) const = default;
};

struct Config {
    std::vector<Listener> listeners;
    std::vector<Route> routes;  // a route's RouteId is its index here
    std::vector<Pool> pools;    // {default} when the file has no `pools`
    Control control;
    Metrics metrics;
    AccessLog access_log;
    Classifier classifier = Classifier::kAuto;
    PassthroughRelay passthrough_relay = PassthroughRelay::kAuto;

    bool operator==(const Config &) const = default;
};

}  // namespace sni::config
