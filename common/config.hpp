// Public entry point of the configuration model: load a YAML file (or string) into a typed,
// validated Config, or get back every error found, each located by file, line, column and key
// path. No exception escapes these functions. See docs/config.md for the file format.
#pragma once

#include <filesystem>
#include <string_view>

#include "common/config_enums.hpp"
#include "common/config_error.hpp"
#include "common/config_result.hpp"
#include "common/config_types.hpp"

namespace sni::config {

using LoadResult = Result<Config, ConfigErrors>;

// Reads and validates `path`. Relative certificate/key/CA/OCSP paths in it are resolved
// against the file's directory. Errors name the file as `path` was given.
LoadResult load_file(const std::filesystem::path &path);

// Same, from text: `name_for_errors` is used as the file name in errors, `base_dir` resolves
// relative paths.
LoadResult load_string(std::string_view text, std::string_view name_for_errors,
                       const std::filesystem::path &base_dir);

}  // namespace sni::config
