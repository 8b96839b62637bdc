#include "common/server_names.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sni {
namespace {

std::string repeat(char c, std::size_t n) {
    return std::string(n, c);
}

// A name of exactly `total` bytes made of 63-byte labels (and a shorter last one).
std::string name_of_length(std::size_t total) {
    std::string name;
    while (name.size() < total) {
        if (!name.empty()) name += '.';
        name += repeat('a', std::min<std::size_t>(63, total - name.size()));
    }
    return name;
}

TEST(ServerNameNormalize, LowercasesAndStripsOneTrailingDot) {
    EXPECT_EQ(normalize_server_name("Shop.Example.COM"), "shop.example.com");
    EXPECT_EQ(normalize_server_name("shop.example.com."), "shop.example.com");
    EXPECT_EQ(normalize_server_name("localhost"), "localhost");
    EXPECT_EQ(normalize_server_name("a-b_c.x1"), "a-b_c.x1");
    EXPECT_EQ(normalize_server_name("xn--bcher-kva.example"), "xn--bcher-kva.example");
}

TEST(ServerNameNormalize, RejectsEmptyAndEmptyLabels) {
    EXPECT_EQ(normalize_server_name(""), std::nullopt);
    EXPECT_EQ(normalize_server_name("."), std::nullopt);
    EXPECT_EQ(normalize_server_name("a..b"), std::nullopt);
    EXPECT_EQ(normalize_server_name(".a"), std::nullopt);
    EXPECT_EQ(normalize_server_name("a.."), std::nullopt);  // only one trailing dot is stripped
}

TEST(ServerNameNormalize, RejectsBadCharacters) {
    for (const char *bad : {"a b", "a*b", "*.a", "a/b", "a:443", "caf\xc3\xa9.fr", "a\tb", "a@b"})
        EXPECT_EQ(normalize_server_name(bad), std::nullopt) << bad;
    EXPECT_EQ(normalize_server_name(std::string("a\0b", 3)), std::nullopt);
}

TEST(ServerNameNormalize, LabelLengthLimit) {
    EXPECT_TRUE(normalize_server_name(repeat('a', 63) + ".com"));
    EXPECT_FALSE(normalize_server_name(repeat('a', 64) + ".com"));
    EXPECT_EQ(check_server_name(repeat('a', 64) + ".com"), ServerNameProblem::kLabelTooLong);
}

TEST(ServerNameNormalize, TotalLengthLimit) {
    EXPECT_TRUE(normalize_server_name(name_of_length(253)));
    EXPECT_TRUE(normalize_server_name(name_of_length(253) + "."));  // the dot does not count
    EXPECT_FALSE(normalize_server_name(name_of_length(254)));
    EXPECT_EQ(check_server_name(name_of_length(254)), ServerNameProblem::kTooLong);
}

TEST(ServerNameNormalize, CheckReportsTheProblem) {
    EXPECT_EQ(check_server_name("Example.COM."), ServerNameProblem::kOk);
    EXPECT_EQ(check_server_name(""), ServerNameProblem::kEmpty);
    EXPECT_EQ(check_server_name("a b"), ServerNameProblem::kBadCharacter);
    EXPECT_EQ(check_server_name("a..b"), ServerNameProblem::kEmptyLabel);
    EXPECT_FALSE(describe(ServerNameProblem::kBadCharacter).empty());
}

TEST(ServerNameWildcard, ValidForms) {
    EXPECT_TRUE(is_valid_wildcard("*.example.com"));
    EXPECT_TRUE(is_valid_wildcard("*.com"));
    EXPECT_TRUE(is_valid_wildcard("*.Example.COM."));
    EXPECT_EQ(normalize_wildcard("*.Example.COM."), "*.example.com");
}

TEST(ServerNameWildcard, InvalidForms) {
    for (const char *bad : {"*", "*.", "*foo.com", "a.*.com", "*.*.com", "**.com", "foo*.com",
                            "*.a..b", "*.", ".*.com", "*.a b", "x.*"})
        EXPECT_FALSE(is_valid_wildcard(bad)) << bad;
    EXPECT_FALSE(is_valid_wildcard("example.com"));               // not a wildcard at all
    EXPECT_FALSE(is_valid_wildcard("*." + name_of_length(252)));  // 254 bytes in total
    EXPECT_TRUE(is_valid_wildcard("*." + name_of_length(251)));   // 253 bytes in total
}

TEST(ServerNameWildcard, IsWildcardPattern) {
    EXPECT_TRUE(is_wildcard_pattern("*.a"));
    EXPECT_TRUE(is_wildcard_pattern("a.*.b"));
    EXPECT_FALSE(is_wildcard_pattern("a.b"));
}

TEST(ServerNameWildcardKey, DropsTheFirstLabel) {
    EXPECT_EQ(wildcard_key("x.a.b"), "a.b");
    EXPECT_EQ(wildcard_key("*.a.b"), "a.b");
    EXPECT_EQ(wildcard_key("a.b"), "b");
    EXPECT_EQ(wildcard_key("com"), "");
    EXPECT_EQ(wildcard_key(""), "");
}

TEST(ServerNameTable, ExactMatch) {
    ServerNameTable table;
    EXPECT_EQ(table.add("shop.example.com", 1).status, ServerNameTable::AddStatus::kOk);
    EXPECT_EQ(table.lookup("shop.example.com"), 1u);
    EXPECT_EQ(table.lookup("SHOP.example.com."), 1u);
    EXPECT_EQ(table.lookup("example.com"), std::nullopt);
    EXPECT_EQ(table.lookup("x.shop.example.com"), std::nullopt);
}

TEST(ServerNameTable, PatternsAreNormalizedOnAdd) {
    ServerNameTable table;
    ASSERT_EQ(table.add("Shop.Example.COM.", 3).status, ServerNameTable::AddStatus::kOk);
    ASSERT_EQ(table.add("*.API.Example.com", 4).status, ServerNameTable::AddStatus::kOk);
    EXPECT_EQ(table.lookup("shop.example.com"), 3u);
    EXPECT_EQ(table.lookup("v1.api.example.com"), 4u);
    EXPECT_EQ(table.exact_names().count("shop.example.com"), 1u);
    EXPECT_EQ(table.wildcard_suffixes().count("api.example.com"), 1u);
}

TEST(ServerNameTable, WildcardMatchesExactlyOneLabel) {
    ServerNameTable table;
    ASSERT_EQ(table.add("*.a.b", 7).status, ServerNameTable::AddStatus::kOk);
    EXPECT_EQ(table.lookup("x.a.b"), 7u);
    EXPECT_EQ(table.lookup("X.A.B."), 7u);
    EXPECT_EQ(table.lookup("y.x.a.b"), std::nullopt);
    EXPECT_EQ(table.lookup("a.b"), std::nullopt);
    EXPECT_EQ(table.lookup("b"), std::nullopt);
    EXPECT_EQ(table.lookup("xa.b"), std::nullopt);
}

TEST(ServerNameTable, ExactBeatsWildcard) {
    ServerNameTable table;
    ASSERT_EQ(table.add("*.example.com", 1).status, ServerNameTable::AddStatus::kOk);
    ASSERT_EQ(table.add("www.example.com", 2).status, ServerNameTable::AddStatus::kOk);
    EXPECT_EQ(table.lookup("www.example.com"), 2u);
    EXPECT_EQ(table.lookup("api.example.com"), 1u);
    // The order of insertion does not matter.
    ServerNameTable reversed;
    ASSERT_EQ(reversed.add("www.example.com", 2).status, ServerNameTable::AddStatus::kOk);
    ASSERT_EQ(reversed.add("*.example.com", 1).status, ServerNameTable::AddStatus::kOk);
    EXPECT_EQ(reversed.lookup("www.example.com"), 2u);
    EXPECT_EQ(reversed.lookup("api.example.com"), 1u);
}

TEST(ServerNameTable, LongestSuffixWinsAmongWildcards) {
    ServerNameTable table;
    ASSERT_EQ(table.add("*.example.com", 1).status, ServerNameTable::AddStatus::kOk);
    ASSERT_EQ(table.add("*.shop.example.com", 2).status, ServerNameTable::AddStatus::kOk);
    ASSERT_EQ(table.add("*.com", 3).status, ServerNameTable::AddStatus::kOk);
    EXPECT_EQ(table.lookup("eu.shop.example.com"), 2u);
    EXPECT_EQ(table.lookup("shop.example.com"), 1u);
    EXPECT_EQ(table.lookup("example.com"), 3u);
    EXPECT_EQ(table.lookup("com"), std::nullopt);
    // One label only: *.example.com does not fall back for deeper names.
    EXPECT_EQ(table.lookup("a.b.example.com"), std::nullopt);
}

TEST(ServerNameTable, ExactNameAndCoveringWildcardCoexist) {
    ServerNameTable table;
    EXPECT_EQ(table.add("shop.example.com", 1).status, ServerNameTable::AddStatus::kOk);
    EXPECT_EQ(table.add("*.shop.example.com", 1).status, ServerNameTable::AddStatus::kOk);
    EXPECT_EQ(table.add("*.example.com", 2).status, ServerNameTable::AddStatus::kOk);
    EXPECT_EQ(table.size(), 3u);
}

TEST(ServerNameTable, RejectsDuplicateExactNames) {
    ServerNameTable table;
    ASSERT_EQ(table.add("shop.example.com", 1).status, ServerNameTable::AddStatus::kOk);
    auto again = table.add("Shop.Example.com.", 2);
    EXPECT_EQ(again.status, ServerNameTable::AddStatus::kDuplicate);
    EXPECT_EQ(again.existing, 1u);
    EXPECT_EQ(table.lookup("shop.example.com"), 1u);  // unchanged
}

TEST(ServerNameTable, RejectsDuplicateWildcards) {
    ServerNameTable table;
    ASSERT_EQ(table.add("*.example.com", 4).status, ServerNameTable::AddStatus::kOk);
    auto again = table.add("*.EXAMPLE.com", 5);
    EXPECT_EQ(again.status, ServerNameTable::AddStatus::kDuplicate);
    EXPECT_EQ(again.existing, 4u);
}

TEST(ServerNameTable, RejectsInvalidPatternsWithoutChangingTheTable) {
    ServerNameTable table;
    EXPECT_EQ(table.add("a.*.com", 1).status, ServerNameTable::AddStatus::kInvalidWildcard);
    EXPECT_EQ(table.add("*foo.com", 1).status, ServerNameTable::AddStatus::kInvalidWildcard);
    EXPECT_EQ(table.add("*", 1).status, ServerNameTable::AddStatus::kInvalidWildcard);
    EXPECT_EQ(table.add("bad name", 1).status, ServerNameTable::AddStatus::kInvalidName);
    EXPECT_EQ(table.add("", 1).status, ServerNameTable::AddStatus::kInvalidName);
    EXPECT_TRUE(table.empty());
}

TEST(ServerNameTable, InvalidLookupsMatchNothing) {
    ServerNameTable table;
    ASSERT_EQ(table.add("*.example.com", 1).status, ServerNameTable::AddStatus::kOk);
    EXPECT_EQ(table.lookup(""), std::nullopt);
    EXPECT_EQ(table.lookup("*.example.com"), std::nullopt);  // '*' is not a name character
    EXPECT_EQ(table.lookup("a b.example.com"), std::nullopt);
    EXPECT_EQ(table.lookup(".example.com"), std::nullopt);
    EXPECT_EQ(table.lookup(repeat('a', 300)), std::nullopt);
    EXPECT_EQ(table.lookup(repeat('a', 64) + ".example.com"), std::nullopt);
}

TEST(ServerNameTable, KeysAreWhatTheBpfMapStores) {
    ServerNameTable table;
    ASSERT_EQ(table.add("*.shop.example.com", 9).status, ServerNameTable::AddStatus::kOk);
    // A BPF lookup of "eu.shop.example.com" probes the exact map with the name, then the
    // wildcard map with wildcard_key(name); the table stores exactly that key.
    const std::string name = "eu.shop.example.com";
    EXPECT_EQ(table.exact_names().count(name), 0u);
    auto it = table.wildcard_suffixes().find(wildcard_key(name));
    ASSERT_NE(it, table.wildcard_suffixes().end());
    EXPECT_EQ(it->second, 9u);
}

TEST(ServerNameTable, IsCopyableAndComparable) {
    ServerNameTable a;
    ASSERT_EQ(a.add("a.example", 1).status, ServerNameTable::AddStatus::kOk);
    ServerNameTable b = a;
    EXPECT_EQ(a, b);
    ASSERT_EQ(b.add("*.example", 2).status, ServerNameTable::AddStatus::kOk);
    EXPECT_NE(a, b);
}

}  // namespace
}  // namespace sni
