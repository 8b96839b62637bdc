#include "common/config.hpp"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <fstream>
#include <sstream>
#include <string>

#include "common/config_diagnostics.hpp"
#include "common/config_parse.hpp"
#include "common/config_validate.hpp"

namespace sni::config {
namespace {

LoadResult failure(std::string_view file, int line, int column, std::string message) {
    return unexpected(
        ConfigErrors{ConfigError{std::string(file), line, column, "", std::move(message)}});
}

}  // namespace

LoadResult load_string(std::string_view text, std::string_view name_for_errors,
                       const std::filesystem::path &base_dir) {
    try {
        YAML::Node root;
        try {
            root = YAML::Load(std::string(text));
        } catch (const YAML::ParserException &e) {
            const bool located = !e.mark.is_null() && e.mark.line >= 0;
            return failure(name_for_errors, located ? e.mark.line + 1 : 0,
                           located ? e.mark.column + 1 : 0, "YAML syntax error: " + e.msg);
        }
        Diagnostics d{std::string(name_for_errors)};
        Config config = parse_config(d, root, base_dir);
        validate_config(config, d);
        check_files(config, d);
        check_cipher_strings(config, d);
        if (d.has_errors()) return unexpected(d.take_errors());
        return config;
    } catch (const std::exception &e) {
        return failure(name_for_errors, 0, 0, std::string("internal error: ") + e.what());
    }
}

LoadResult load_file(const std::filesystem::path &path) {
    const std::string name = path.string();
    try {
        std::ifstream in(path, std::ios::binary);
        if (!in) return failure(name, 0, 0, std::string("cannot open: ") + std::strerror(errno));
        std::ostringstream text;
        text << in.rdbuf();
        if (in.bad()) return failure(name, 0, 0, "cannot read the file");
        std::error_code ec;
        std::filesystem::path absolute = std::filesystem::absolute(path, ec);
        if (ec) absolute = path;
        return load_string(text.str(), name, absolute.parent_path());
    } catch (const std::exception &e) {
        return failure(name, 0, 0, std::string("internal error: ") + e.what());
    }
}

}  // namespace sni::config
