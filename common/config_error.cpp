#include "common/config_error.hpp"

namespace sni::config {

std::string to_string(const ConfigError &error) {
    std::string out = error.file;
    if (error.line > 0) {
        out += ':' + std::to_string(error.line);
        if (error.column > 0) out += ':' + std::to_string(error.column);
    }
    out += ": ";
    if (!error.path.empty()) out += error.path + ": ";
    out += error.message;
    return out;
}

std::string to_string(const ConfigErrors &errors) {
    std::string out;
    for (const auto &error : errors) out += to_string(error) + '\n';
    return out;
}

}  // namespace sni::config
