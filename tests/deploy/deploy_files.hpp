// Readers for the deployment files: a systemd unit (INI with repeated keys), a Dockerfile's
// instructions, and the processes' view of shared libraries (ldd) and their Debian packages.
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace sni::deploytest {

std::string read_text(const std::filesystem::path &path);

// "[Section]" -> key -> every value given for it, in order.
using UnitFile = std::map<std::string, std::multimap<std::string, std::string>>;
UnitFile parse_unit(const std::string &text);
std::string unit_value(const UnitFile &unit, const std::string &section, const std::string &key);

// Dockerfile instructions with continuation lines joined: {"FROM debian:12 AS build", ...}.
std::vector<std::string> dockerfile_instructions(const std::string &text);

// Runs a command, returns its stdout; `exit_code` gets its status.
std::string run_capture(const std::string &command, int &exit_code);

// The Debian packages that provide the shared libraries `binary` links (through ldd, dpkg -S).
std::set<std::string> library_packages(const std::string &binary);

std::set<std::string> split_words(const std::string &text);

}  // namespace sni::deploytest
