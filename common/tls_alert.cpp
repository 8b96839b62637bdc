#include "common/tls_alert.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace sni {

std::string_view alert_name(AlertDescription description) {
    switch (description) {
        case AlertDescription::kHandshakeFailure:
            return "handshake_failure";
        case AlertDescription::kDecodeError:
            return "decode_error";
        case AlertDescription::kInternalError:
            return "internal_error";
        case AlertDescription::kUnrecognizedName:
            return "unrecognized_name";
    }
    return "unknown";
}

std::array<std::uint8_t, 7> fatal_alert_record(AlertDescription description) {
    return {0x15, 0x03, 0x01, 0x00, 0x02, 0x02, static_cast<std::uint8_t>(description)};
}

bool send_fatal_alert(int fd, AlertDescription description) {
    const auto record = fatal_alert_record(description);
    ssize_t n;
    do {
        n = ::send(fd, record.data(), record.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n == static_cast<ssize_t>(record.size());
}

}  // namespace sni
