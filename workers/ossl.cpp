#include "workers/ossl.hpp"

#include <openssl/err.h>

namespace sni::worker {

std::string take_openssl_errors() {
    std::string out;
    while (const unsigned long code = ERR_get_error()) {
        char buf[256] = {};
        ERR_error_string_n(code, buf, sizeof buf);
        if (!out.empty()) out += "; ";
        out += buf;
    }
    return out;
}

}  // namespace sni::worker
