// Reload: 20 reloads (sni-ctl reload) under a steady load of new connections and long
// transfers, with zero failed connections; the route ids shift at every other reload (a route
// is added in front), so a handoff sent to the wrong generation would be seen. A bad
// configuration is refused and the old one keeps serving; SIGHUP reloads too.
#include <signal.h>

#include <atomic>
#include <thread>

#include "ctl_support.hpp"
#include "splitter_fixture.hpp"

namespace sni::itest {
namespace {

class ReloadTest : public SplitterTest {
  protected:
    // Long transfers live through every reload: their generation must not be cut short.
    std::string drain_timeout() const override { return "60"; }

    void write_config(bool with_extra) {
        extra_routes_ = with_extra ? "  - name: pt-0\n"
                                     "    listener: main\n"
                                     "    server_names: [p0.test]\n"
                                     "    mode: passthrough\n"
                                     "    backend: {servers: [\"127.0.0.1:9\"]}\n"
                                   : "";
        write_file(dir_->path() / "splitter.yaml", config_text());
    }
};

using nlohmann::json;

// One echo round trip on a new connection; false on any failure.
bool short_echo(std::uint16_t port, const std::string &sni, std::uint32_t seed) {
    UniqueFd fd = connect_tcp("127.0.0.1", port);
    if (!fd) return false;
    Bytes expected = build_client_hello({.sni = sni});
    const Bytes payload = random_payload(512, seed);
    expected.insert(expected.end(), payload.begin(), payload.end());
    if (!send_all(fd.get(), expected)) return false;
    const auto r = read_exactly(fd.get(), expected.size(), 10s);
    return r.data == expected;
}

TEST_P(ReloadTest, TwentyReloadsUnderLoadFailNothing) {
    std::atomic<bool> stop{false};
    std::atomic<int> short_ok{0}, short_failed{0}, long_failed{0};
    std::atomic<std::uint64_t> long_bytes{0};

    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
        threads.emplace_back([&, t] {
            for (std::uint32_t i = 0; !stop; ++i) {
                const std::string sni = "p" + std::to_string(1 + (i + t) % 3) + ".test";
                (short_echo(main_port_, sni, i * 3 + t) ? short_ok : short_failed)++;
            }
        });
    }
    for (int t = 0; t < 2; ++t) {
        threads.emplace_back([&, t] {
            UniqueFd fd = connect_tcp("127.0.0.1", main_port_);
            const Bytes hello = build_client_hello({.sni = "p" + std::to_string(2 + t) + ".test"});
            if (!fd || !send_all(fd.get(), hello) ||
                read_exactly(fd.get(), hello.size(), 10s).data != hello) {
                ++long_failed;
                return;
            }
            for (std::uint32_t i = 0; !stop; ++i) {
                const Bytes chunk = random_payload(64 * 1024, 100 + i);
                if (!send_all(fd.get(), chunk) ||
                    read_exactly(fd.get(), chunk.size(), 10s).data != chunk) {
                    ++long_failed;
                    return;
                }
                long_bytes += chunk.size();
            }
        });
    }

    int reloads_ok = 0;
    for (int i = 1; i <= 20; ++i) {
        write_config(i % 2 == 1);
        const auto r = run_ctl(control_socket(), {"reload"});
        EXPECT_EQ(r.exit_code, 0) << "reload " << i << ": " << r.err;
        if (r.exit_code != 0) break;  // still join the load threads below
        ++reloads_ok;
        std::this_thread::sleep_for(150ms);
    }
    std::this_thread::sleep_for(300ms);
    stop = true;
    for (auto &t : threads) t.join();

    ASSERT_EQ(reloads_ok, 20);
    EXPECT_EQ(short_failed.load(), 0);
    EXPECT_EQ(long_failed.load(), 0);
    EXPECT_GT(short_ok.load(), 20);
    EXPECT_GT(long_bytes.load(), 20u * 64 * 1024);
    std::cerr << "reloads=20 short_connections=" << short_ok << " long_bytes=" << long_bytes
              << "\n";

    const json status = ctl_json(control_socket(), {"status"});
    EXPECT_EQ(status["generation"], 21);
    EXPECT_EQ(status["reloads"], 20);
    // The last configuration (no pt-0) is in force, and routes still work.
    EXPECT_TRUE(short_echo(main_port_, "p1.test", 999));
    const json routes = ctl_json(control_socket(), {"routes"});
    EXPECT_EQ(routes["routes"].size(), 8u);

    EXPECT_EQ(daemon_->stop(10s), 0);
    const std::string log = daemon_->log();
    EXPECT_EQ(count_of(log, "msg=\"reloaded\""), 20u);
    EXPECT_NE(log.find(" handoff_overflow=0 "), std::string::npos);
    EXPECT_NE(log.find(" no_worker=0 "), std::string::npos);
    EXPECT_NE(log.find(" shutdown=0 "), std::string::npos);
}

TEST_P(ReloadTest, NewRouteServesAfterReload) {
    write_config(true);
    ASSERT_EQ(run_ctl(control_socket(), {"reload"}).exit_code, 0);
    EXPECT_TRUE(short_echo(main_port_, "p0.test", 1));
    const json routes = ctl_json(control_socket(), {"routes"});
    bool seen = false;
    for (const auto &r : routes["routes"])
        if (r["name"] == "pt-0") seen = r["handed_off"] == 1;
    EXPECT_TRUE(seen) << routes.dump(2);
}

TEST_P(ReloadTest, BadConfigIsRefusedAndTheOldOneServes) {
    const auto path = dir_->path() / "splitter.yaml";
    const std::string good = read_file(path);
    write_file(path, good + "surprise: 1\n");
    const auto r = run_ctl(control_socket(), {"reload"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("surprise"), std::string::npos) << r.err;
    for (int i = 0; i < 3; ++i)
        EXPECT_TRUE(short_echo(main_port_, "p" + std::to_string(1 + i) + ".test", i));
    json status = ctl_json(control_socket(), {"status"});
    EXPECT_EQ(status["generation"], 1);
    EXPECT_EQ(status["reloads_failed"], 1);
    EXPECT_NE(status["last_reload_error"].get<std::string>().find("surprise"), std::string::npos);

    // Listener changes need a restart: refused, said so.
    std::string moved = good;
    const std::string port = std::to_string(strict_port_);
    moved.replace(moved.find(port), port.size(), std::to_string(free_ports(1)[0]));
    write_file(path, moved);
    const auto r2 = run_ctl(control_socket(), {"reload"});
    EXPECT_EQ(r2.exit_code, 1);
    EXPECT_NE(r2.err.find("needs a restart"), std::string::npos) << r2.err;

    // Fixed file + SIGHUP: applied.
    write_file(path, good);
    ASSERT_EQ(::kill(daemon_->pid(), SIGHUP), 0);
    ASSERT_TRUE(daemon_->wait_log(
        [](const std::string &l) { return l.find("msg=\"reloaded\"") != std::string::npos; }, 10s));
    status = ctl_json(control_socket(), {"status"});
    EXPECT_EQ(status["generation"], 2);
    EXPECT_TRUE(short_echo(main_port_, "p1.test", 5));
}

INSTANTIATE_TEST_SUITE_P(Classifiers, ReloadTest, SNI_CLASSIFIERS, classifier_name);

// --watch (Kubernetes ConfigMap mounts): an edit of the file reloads by itself; a bad edit is
// refused and logged while the running configuration keeps serving.
class WatchReloadTest : public ReloadTest {
  protected:
    std::vector<std::string> extra_daemon_args() const override { return {"--watch"}; }
};

TEST_P(WatchReloadTest, EditingTheFileReloadsAndABadEditIsRefused) {
    auto reloaded = [](const std::string &l) {
        return l.find("msg=\"reloaded\" trigger=watch") != std::string::npos;
    };
    ASSERT_TRUE(daemon_->wait_log(
        [](const std::string &l) {
            return l.find("watching the configuration") != std::string::npos;
        },
        5s));
    write_config(true);
    ASSERT_TRUE(daemon_->wait_log(reloaded, 10s)) << daemon_->log();
    EXPECT_TRUE(short_echo(main_port_, "p0.test", 1));

    const auto path = dir_->path() / "splitter.yaml";
    write_file(path, read_file(path) + "surprise: 1\n");
    ASSERT_TRUE(daemon_->wait_log(
        [](const std::string &l) {
            return l.find("reload refused") != std::string::npos &&
                   l.find("trigger=watch") != std::string::npos;
        },
        10s))
        << daemon_->log();
    EXPECT_TRUE(short_echo(main_port_, "p0.test", 2));
    EXPECT_EQ(count_of(daemon_->log(), "msg=\"reloaded\" trigger=watch"), 1u);
}

INSTANTIATE_TEST_SUITE_P(Classifiers, WatchReloadTest, SNI_CLASSIFIERS, classifier_name);

}  // namespace
}  // namespace sni::itest
