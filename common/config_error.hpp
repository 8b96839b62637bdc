// One configuration error, located in the YAML source.
#pragma once

#include <string>
#include <vector>

namespace sni::config {

struct ConfigError {
    std::string file;     // as given to the loader ("<string>" style names are fine)
    int line = 0;         // 1-based; 0 when the error is not tied to a line (e.g. unreadable file)
    int column = 0;       // 1-based; 0 when unknown
    std::string path;     // key path, e.g. "routes[2].backend.min_version"; "" for the document
    std::string message;  // plain words, no trailing period

    bool operator==(const ConfigError &) const = default;
};

using ConfigErrors = std::vector<ConfigError>;

// "file:line:col: path: message" (the parts that are unknown are left out).
std::string to_string(const ConfigError &error);

// Every error on its own line, each ending with '\n'.
std::string to_string(const ConfigErrors &errors);

}  // namespace sni::config
