#include "loader/connections.hpp"

namespace sni::loader {

Connection &ConnectionTable::insert(Connection conn) {
    const auto id = conn.id;
    const auto cookie = conn.cookie;
    auto [it, inserted] = by_id_.emplace(id, std::move(conn));
    if (cookie != 0) by_cookie_[cookie] = id;
    return it->second;
}

Connection *ConnectionTable::find(std::uint64_t id) {
    const auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : &it->second;
}

Connection *ConnectionTable::find_by_cookie(std::uint64_t cookie) {
    const auto it = by_cookie_.find(cookie);
    return it == by_cookie_.end() ? nullptr : find(it->second);
}

Connection ConnectionTable::take(std::uint64_t id) {
    auto node = by_id_.extract(id);
    if (node.empty()) return Connection{};
    if (node.mapped().cookie != 0) {
        const auto it = by_cookie_.find(node.mapped().cookie);
        if (it != by_cookie_.end() && it->second == id) by_cookie_.erase(it);
    }
    return std::move(node.mapped());
}

std::vector<std::uint64_t> ConnectionTable::ids() const {
    std::vector<std::uint64_t> out;
    out.reserve(by_id_.size());
    for (const auto &[id, conn] : by_id_) out.push_back(id);
    return out;
}

}  // namespace sni::loader
