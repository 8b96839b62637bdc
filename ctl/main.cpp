// sni-ctl: the operator's CLI. Talks to sni-splitterd over its control socket (root only);
// `check` validates a configuration file locally. Exit codes: see ctl/client.hpp and
// docs/operations.md.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <string>

#include "common/config.hpp"
#include "common/config_error.hpp"
#include "common/control_protocol.hpp"
#include "ctl/client.hpp"
#include "ctl/render.hpp"

namespace {

using namespace sni;

int check_file(const std::string &path, bool json) {
    auto loaded = config::load_file(path);
    if (json) {
        control::Json j = {{"file", path}, {"ok", static_cast<bool>(loaded)}};
        if (!loaded) j["errors"] = config::to_string(loaded.error());
        std::cout << j.dump(2) << "\n";
        return loaded ? ctl::kExitOk : ctl::kExitRefused;
    }
    if (!loaded) {
        std::cerr << config::to_string(loaded.error());
        return ctl::kExitRefused;
    }
    std::cout << path << ": configuration OK\n";
    return ctl::kExitOk;
}

int run_remote(const std::string &socket, const control::Request &request, bool json) {
    const ctl::Outcome out = ctl::call(socket, request);
    if (out.exit_code != ctl::kExitOk) {
        if (json) {
            std::cout << control::Json{{"ok", false},
                                       {"exit_code", out.exit_code},
                                       {"error", out.message}}
                             .dump(2)
                      << "\n";
        }
        std::cerr << "sni-ctl: " << out.message << (out.message.ends_with('\n') ? "" : "\n");
        return out.exit_code;
    }
    if (json)
        std::cout << out.response.data.dump(2, ' ', false, control::Json::error_handler_t::replace)
                  << "\n";
    else
        std::cout << ctl::render_human(request.command, out.response.data);
    return ctl::kExitOk;
}

}  // namespace

int main(int argc, char **argv) {
    CLI::App app{"sni-ctl: control a running sni-splitterd"};
    app.require_subcommand(1);
    app.fallthrough();  // --json and --socket also after the command
    std::string socket = "/run/sni-splitter/ctl.sock";
    bool json = false;
    app.add_option("--socket", socket, "the daemon's control socket (config control.socket)")
        ->capture_default_str();
    app.add_flag("--json", json, "machine-readable output");

    app.add_subcommand("status", "version, uptime, classifier, kTLS, pools and workers");
    app.add_subcommand("routes", "routes with their mode, pool, names, counts and backends");
    app.add_subcommand("conns", "open connections on the listener ports (sock_diag)");
    app.add_subcommand("metrics", "the daemon's counters as Prometheus text");
    app.add_subcommand("reload", "validate and apply the configuration file again");
    auto *drain = app.add_subcommand("drain", "stop taking new connections on a route or listener");
    std::string route, listener;
    auto *route_opt = drain->add_option("--route", route, "route name");
    auto *listener_opt = drain->add_option("--listener", listener, "listener name");
    route_opt->excludes(listener_opt);
    auto *check = app.add_subcommand("check", "validate a configuration file (no daemon needed)");
    std::string file;
    check->add_option("FILE", file, "configuration file")->required();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        const int code = app.exit(e);
        return code == 0 ? ctl::kExitOk : ctl::kExitUsage;
    }
    CLI::App *cmd = app.get_subcommands().front();
    const std::string name = cmd->get_name();
    if (name == "check") return check_file(file, json);

    control::Request request;
    request.command = name;
    if (name == "drain") {
        if (route.empty() && listener.empty()) {
            std::cerr << "sni-ctl: drain needs --route NAME or --listener NAME\n";
            return ctl::kExitUsage;
        }
        if (!route.empty()) request.args["route"] = route;
        if (!listener.empty()) request.args["listener"] = listener;
    }
    return run_remote(socket, request, json);
}
