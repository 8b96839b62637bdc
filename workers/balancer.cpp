#include "workers/balancer.hpp"

#include <algorithm>

namespace sni::worker {

Balancer::Balancer(config::Balance balance, std::vector<std::uint32_t> weights,
                   std::vector<bool> usable)
    : balance_(balance), servers_(weights.size()) {
    for (std::size_t i = 0; i < servers_.size(); ++i) {
        servers_[i].weight = std::max<std::uint32_t>(weights[i], 1);
        servers_[i].usable = i < usable.size() ? usable[i] : true;
    }
}

bool Balancer::ejected(std::size_t server, Clock::time_point now) const {
    return servers_[server].failures >= kEjectAfter && now < servers_[server].ejected_until;
}

std::optional<std::size_t> Balancer::pick(Clock::time_point now,
                                          std::span<const std::size_t> exclude) {
    healthy_.clear();
    any_.clear();
    for (std::size_t i = 0; i < servers_.size(); ++i) {
        if (!servers_[i].usable || servers_[i].down) continue;
        if (std::find(exclude.begin(), exclude.end(), i) != exclude.end()) continue;
        any_.push_back(i);
        if (!ejected(i, now)) healthy_.push_back(i);
    }
    const auto &candidates = healthy_.empty() ? any_ : healthy_;
    if (candidates.empty()) return std::nullopt;
    return balance_ == config::Balance::kLeastConn ? pick_least_conn(candidates)
                                                   : pick_round_robin(candidates);
}

std::size_t Balancer::pick_round_robin(const std::vector<std::size_t> &candidates) {
    std::int64_t total = 0;
    std::size_t best = candidates.front();
    for (const std::size_t i : candidates) {
        servers_[i].current += servers_[i].weight;
        total += servers_[i].weight;
        if (servers_[i].current > servers_[best].current) best = i;
    }
    servers_[best].current -= total;
    return best;
}

std::size_t Balancer::pick_least_conn(const std::vector<std::size_t> &candidates) {
    // Fewest active per weight; among equals, the first at or after the cursor.
    const std::size_t n = servers_.size();
    std::optional<std::size_t> best;
    for (std::size_t k = 0; k < n; ++k) {
        const std::size_t i = (cursor_ + k) % n;
        if (std::find(candidates.begin(), candidates.end(), i) == candidates.end()) continue;
        if (!best) {
            best = i;
            continue;
        }
        const Server &a = servers_[i];
        const Server &b = servers_[*best];
        if (std::uint64_t(a.active) * b.weight < std::uint64_t(b.active) * a.weight) best = i;
    }
    cursor_ = (*best + 1) % n;
    return *best;
}

void Balancer::acquire(std::size_t server) {
    ++servers_[server].active;
}

void Balancer::release(std::size_t server) {
    if (servers_[server].active > 0) --servers_[server].active;
}

void Balancer::connect_succeeded(std::size_t server) {
    servers_[server].failures = 0;
}

void Balancer::check_passed(std::size_t server) {
    servers_[server].failures = 0;
    servers_[server].ejected_until = {};
}

bool Balancer::connect_failed(std::size_t server, Clock::time_point now) {
    Server &s = servers_[server];
    ++s.failures;
    if (s.failures < kEjectAfter) return false;
    const bool newly = now >= s.ejected_until;
    s.ejected_until = now + kEjectFor;
    return newly;
}

}  // namespace sni::worker
