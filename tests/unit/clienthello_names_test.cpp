// The stable names of statuses and reasons are what logs and metrics carry: every code has one,
// and no two codes share one.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "common/clienthello.hpp"

TEST(ClientHelloNames, EveryReasonHasAUniqueName) {
    std::set<std::string> seen;
    for (uint32_t r = 0; r < CH_R__COUNT; r++) {
        const auto name = sni::reason_name(r);
        EXPECT_NE(name, "unknown") << "reason " << r;
        EXPECT_TRUE(seen.insert(std::string(name)).second) << "duplicate name " << name;
    }
    EXPECT_EQ(sni::reason_name(CH_R__COUNT), "unknown");
}

TEST(ClientHelloNames, Statuses) {
    EXPECT_EQ(sni::status_name(CH_OK), "ok");
    EXPECT_EQ(sni::status_name(CH_NEED_MORE), "need_more");
    EXPECT_EQ(sni::status_name(CH_NOT_TLS), "not_tls");
    EXPECT_EQ(sni::status_name(CH_MALFORMED), "malformed");
    EXPECT_EQ(sni::status_name(CH_TOO_BIG), "too_big");
    EXPECT_EQ(sni::status_name(99), "unknown");
}
