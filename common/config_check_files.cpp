#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "common/config_validate.hpp"

namespace sni::config {
namespace {

namespace fs = std::filesystem;

void check_file(Diagnostics &d, const std::string &path, std::string_view what,
                const std::string &file) {
    if (file.empty() || d.failed(path)) return;
    std::error_code ec;
    const fs::file_status status = fs::status(file, ec);
    if (!fs::exists(status)) {
        d.error(path, std::string(what) + " file \"" + file + "\" does not exist");
        return;
    }
    if (fs::is_directory(status)) {
        d.error(path, std::string(what) + " file \"" + file + "\" is a directory");
        return;
    }
    if (::access(file.c_str(), R_OK) != 0) {
        d.error(path, std::string(what) + " file \"" + file +
                          "\" is not readable: " + std::strerror(errno));
    }
}

void check_certificate(Diagnostics &d, const std::string &path, const CertificateFiles &files) {
    check_file(d, child_path(path, "cert"), "certificate", files.cert);
    check_file(d, child_path(path, "key"), "private key", files.key);
    check_file(d, child_path(path, "ocsp"), "OCSP response", files.ocsp);
}

}  // namespace

void check_files(const Config &config, Diagnostics &d) {
    for (std::size_t i = 0; i < config.routes.size(); ++i) {
        const Route &route = config.routes[i];
        const std::string path = index_path("routes", i);
        if (route.tls) {
            const std::string certs = child_path(path, "tls.certificates");
            for (std::size_t j = 0; j < route.tls->certificates.size(); ++j)
                check_certificate(d, index_path(certs, j), route.tls->certificates[j]);
        }
        if (const auto &tls = route.backend.tls) {
            check_file(d, child_path(path, "backend.verify.ca"), "CA", tls->verify.ca);
            if (tls->client_certificate)
                check_certificate(d, child_path(path, "backend.client_certificate"),
                                  *tls->client_certificate);
        }
    }
}

}  // namespace sni::config
