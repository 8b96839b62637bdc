#include "deploy_files.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

namespace sni::deploytest {

std::string read_text(const std::filesystem::path &path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

namespace {
std::string trim(const std::string &s) {
    const auto b = s.find_first_not_of(" \t\r");
    if (b == std::string::npos) return "";
    const auto e = s.find_last_not_of(" \t\r");
    return s.substr(b, e - b + 1);
}
}  // namespace

UnitFile parse_unit(const std::string &text) {
    UnitFile unit;
    std::string section;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        line = trim(line);
        if (line.empty() || line[0] == '#' || line[0] == ';') continue;
        if (line.front() == '[' && line.back() == ']') {
            section = line.substr(1, line.size() - 2);
            continue;
        }
        const auto eq = line.find('=');
        if (eq == std::string::npos) continue;
        unit[section].emplace(trim(line.substr(0, eq)), trim(line.substr(eq + 1)));
    }
    return unit;
}

std::string unit_value(const UnitFile &unit, const std::string &section, const std::string &key) {
    const auto s = unit.find(section);
    if (s == unit.end()) return "";
    const auto range = s->second.equal_range(key);
    std::string last;
    for (auto it = range.first; it != range.second; ++it) last = it->second;
    return last;
}

std::vector<std::string> dockerfile_instructions(const std::string &text) {
    std::vector<std::string> out;
    std::string current;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        const std::string t = trim(line);
        if (current.empty() && (t.empty() || t[0] == '#')) continue;
        if (!t.empty() && t.back() == '\\') {
            current += t.substr(0, t.size() - 1) + " ";
            continue;
        }
        current += t;
        out.push_back(current);
        current.clear();
    }
    if (!current.empty()) out.push_back(current);
    return out;
}

std::string run_capture(const std::string &command, int &exit_code) {
    std::string out;
    FILE *p = ::popen(command.c_str(), "r");
    if (!p) {
        exit_code = -1;
        return out;
    }
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int status = ::pclose(p);
    exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return out;
}

std::set<std::string> split_words(const std::string &text) {
    std::set<std::string> words;
    std::istringstream in(text);
    for (std::string w; in >> w;) words.insert(w);
    return words;
}

std::set<std::string> library_packages(const std::string &binary) {
    int code = 0;
    // "libssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x...)": take the resolved path.
    const std::string libs =
        run_capture("ldd '" + binary + "' | awk '$2 == \"=>\" && $3 ~ /^\\// {print $3}'", code);
    // dpkg knows either /lib/... or /usr/lib/... (merged /usr): ask for both, in one call.
    std::string query;
    std::set<std::string> wanted;
    for (const auto &lib : split_words(libs)) {
        const std::string twin =
            lib.rfind("/usr/", 0) == 0 ? lib.substr(4) : std::string("/usr") + lib;
        query += " '" + lib + "' '" + twin + "'";
        wanted.insert(lib);
    }
    std::set<std::string> packages;
    if (wanted.empty()) return packages;
    std::istringstream out(run_capture("dpkg -S" + query + " 2>/dev/null", code));
    std::set<std::string> found;
    for (std::string line; std::getline(out, line);) {  // "libssl3:amd64: /lib/.../libssl.so.3"
        const auto colon = line.find(": ");
        if (colon == std::string::npos) continue;
        const std::string path = line.substr(colon + 2);
        packages.insert(line.substr(0, line.find(':')));
        found.insert(path);
        found.insert(path.rfind("/usr/", 0) == 0 ? path.substr(4) : "/usr" + path);
    }
    for (const auto &lib : wanted)
        if (!found.count(lib)) packages.insert("<no package owns " + lib + ">");
    return packages;
}

}  // namespace sni::deploytest
