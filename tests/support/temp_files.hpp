// Test helpers shared by the test binaries: a temporary directory removed with its contents,
// and whole-file reads and writes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace sni::testsupport {

// A fresh directory under $TMPDIR (or /tmp), named <prefix>XXXXXX, removed with everything in
// it when this object goes.
class TempDir {
  public:
    explicit TempDir(const std::string &prefix = "sni-test-");
    ~TempDir();
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    const std::filesystem::path &path() const { return path_; }

  private:
    std::filesystem::path path_;
};

void write_file(const std::filesystem::path &path, const std::string &text);
std::string read_file(const std::filesystem::path &path);
std::vector<std::uint8_t> read_binary(const std::filesystem::path &path);

}  // namespace sni::testsupport
