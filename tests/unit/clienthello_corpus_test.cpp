// The ClientHello parser against the corpus in tests/data/clienthello:
//  - real/*.bin: hellos captured from real clients (tests/tools/capture_clienthellos); each must
//    parse OK with the SNI and ALPN its manifest row lists;
//  - synth/*.expect: synthesized edge cases (tests/tools/synth_clienthellos.py); each result
//    must match its expectation file;
//  - every prefix of every input: NEED_MORE (with a sane `need`) until the decisive bytes are
//    there, never OK early;
//  - every valid or body-malformed hello re-framed into 1-byte records gives the same result.
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "common/clienthello.hpp"
#include "tests/unit/corpus_util.hpp"

namespace {

using chtest::Bytes;
using chtest::Entry;

std::string describe(const ch_info &r) {
    std::string s = std::string(sni::status_name(r.status));
    if (r.status == CH_MALFORMED || r.status == CH_NOT_TLS)
        s += "/" + std::string(sni::reason_name(r.reason));
    if (r.status == CH_NEED_MORE) s += " need=" + std::to_string(r.need);
    s += " flags=" + chtest::flags_to_string(r.flags);
    if (r.status == CH_OK) s += " sni=" + std::string(sni::sni_of(r));
    return s;
}

std::span<const uint8_t> prefix(const Bytes &b, size_t n) {
    return {b.data(), n};
}

// Checks an OK result against the expectation keys present in `e`.
void expect_fields(const Entry &e, const ch_info &r) {
    if (e.has("sni")) {
        const std::string want = e.get("sni");
        if (want == "-") {
            EXPECT_FALSE(r.flags & CH_F_SNI) << "unexpected SNI " << sni::sni_of(r);
            EXPECT_EQ(r.sni_len, 0u);
        } else {
            EXPECT_TRUE(r.flags & CH_F_SNI);
            EXPECT_EQ(sni::sni_of(r), want);
            EXPECT_EQ(r.sni_len, want.size());
            EXPECT_EQ(std::string(r.sni), want) << "sni[] must be NUL-terminated";
        }
    }
    if (e.has("alpn")) {
        const std::string want = e.get("alpn");
        if (want == "-") {
            EXPECT_FALSE(r.flags & CH_F_ALPN);
            EXPECT_EQ(r.alpn_total, 0u);
        } else {
            EXPECT_TRUE(r.flags & CH_F_ALPN);
            EXPECT_EQ(chtest::join(sni::alpn_protocols(r)), want);
            if (!(r.flags & CH_F_ALPN_TRUNC)) {
                // The stored prefix is the whole list: rebuild the wire format and compare.
                Bytes wire;
                for (const auto &p : chtest::split(want, ',')) {
                    chtest::put8(wire, static_cast<uint32_t>(p.size()));
                    chtest::append(wire, p);
                }
                EXPECT_EQ(r.alpn_total, wire.size());
                EXPECT_EQ(r.alpn_len, wire.size());
                EXPECT_EQ(Bytes(r.alpn, r.alpn + std::min<size_t>(r.alpn_len, CH_ALPN_BUF)), wire);
                EXPECT_EQ(r.alpn_count, chtest::split(want, ',').size());
            }
        }
    }
    if (e.has("alpn_total")) {
        EXPECT_EQ(r.alpn_total, e.num("alpn_total"));
    }
    if (e.has("alpn_count")) {
        EXPECT_EQ(r.alpn_count, e.num("alpn_count"));
    }
    if (e.has("versions")) {
        EXPECT_EQ(chtest::versions_to_string(sni::supported_versions(r)), e.get("versions"));
    }
    if (e.has("legacy_version")) {
        EXPECT_EQ(chtest::hex16(r.legacy_version), chtest::hex16(e.num("legacy_version")));
    }
    if (e.has("record_version")) {
        EXPECT_EQ(chtest::hex16(r.record_version), chtest::hex16(e.num("record_version")));
    }
    if (e.has("record_bytes")) {
        EXPECT_EQ(r.record_bytes, e.num("record_bytes"));
    }
    if (e.has("hello_len")) {
        EXPECT_EQ(r.hello_len, e.num("hello_len"));
    }
    if (e.has("n_extensions")) {
        EXPECT_EQ(r.n_extensions, e.num("n_extensions"));
    }
    if (e.has("flags")) {
        auto want = chtest::flags_from_string(e.get("flags"));
        ASSERT_TRUE(want.has_value()) << "bad flags in expectation: " << e.get("flags");
        EXPECT_EQ(chtest::flags_to_string(r.flags), chtest::flags_to_string(*want));
    }
}

// ---------------------------------------------------------------------------------------------

TEST(ClientHelloCorpus, ManifestListsEveryRealCapture) {
    const auto rows = chtest::load_manifest();
    std::set<std::string> listed;
    for (const auto &row : rows) {
        EXPECT_TRUE(listed.insert(row.file).second) << "listed twice: " << row.file;
        EXPECT_TRUE(std::filesystem::exists(chtest::data_dir() / "real" / row.file))
            << "listed but missing: " << row.file;
    }
    const auto files = chtest::list_files(chtest::data_dir() / "real", ".bin");
    for (const auto &f : files) EXPECT_TRUE(listed.count(f)) << "not in manifest.tsv: " << f;
    EXPECT_GE(files.size(), 25u) << "the real corpus is too small";
}

TEST(ClientHelloCorpus, EverySynthInputHasAnExpectation) {
    const auto entries = chtest::synth_entries();
    EXPECT_GE(entries.size(), 30u);
    std::set<std::string> used;
    for (const auto &e : entries) {
        EXPECT_TRUE(std::filesystem::exists(e.input)) << e.name << ": missing " << e.input;
        EXPECT_NO_THROW(e.status()) << e.name;
        EXPECT_NO_THROW(e.reason()) << e.name;
        used.insert(e.input.filename().string());
    }
    for (const auto &f : chtest::list_files(chtest::data_dir() / "synth", ".bin"))
        EXPECT_TRUE(used.count(f)) << "no .expect uses " << f;
}

// ---------------------------------------------------------------------------------------------

class ClientHelloEntryTest : public testing::TestWithParam<Entry> {};

std::string EntryName(const testing::TestParamInfo<Entry> &info) {
    return chtest::param_name(info.param.name);
}

// The final result of the whole input matches the expectation.
TEST_P(ClientHelloEntryTest, MatchesExpectation) {
    const Entry &e = GetParam();
    const Bytes data = chtest::read_file(e.input);
    sni::ClientHelloParser parser(e.cap());
    const ch_info &r = parser.parse(data);
    SCOPED_TRACE(e.name + ": " + describe(r) + (e.has("note") ? " (" + e.get("note") + ")" : ""));

    ASSERT_EQ(sni::status_name(r.status), e.get("status"));
    if (auto want = e.reason()) {
        EXPECT_EQ(sni::reason_name(r.reason), sni::reason_name(*want));
    } else if (r.status == CH_OK || r.status == CH_NEED_MORE || r.status == CH_TOO_BIG) {
        EXPECT_EQ(r.reason, static_cast<uint32_t>(CH_R_NONE));
    }
    if (r.status == CH_OK) {
        expect_fields(e, r);
        EXPECT_LE(r.record_bytes, data.size());
        EXPECT_LE(r.hello_len + 5, r.record_bytes);
        EXPECT_FALSE(r.flags & CH_F_NEED_EXACT);
    }
    if (r.status == CH_NEED_MORE) {
        EXPECT_GT(r.need, data.size());
        if (auto total = e.total()) {
            EXPECT_LE(r.need, *total);
            if (r.flags & CH_F_NEED_EXACT) {
                EXPECT_EQ(r.need, *total);
            }
        }
    }
    // A second parse of the same bytes is identical, byte for byte.
    ch_info first;
    std::memcpy(&first, &r, sizeof first);
    const ch_info &again = parser.parse(data);
    EXPECT_EQ(std::memcmp(&first, &again, sizeof first), 0) << "parse is not repeatable";
}

// Every prefix: NEED_MORE until the decisive bytes are there, never OK early, and `need`
// consistent with the real total.
TEST_P(ClientHelloEntryTest, PrefixesNeedMore) {
    const Entry &e = GetParam();
    const Bytes data = chtest::read_file(e.input);
    sni::ClientHelloParser parser(e.cap());
    const uint32_t final_status = e.status();
    const auto final_reason = e.reason();
    const auto total = e.total();
    if (final_status == CH_OK) {
        ASSERT_TRUE(total.has_value()) << e.name << ": no total";
    }

    bool decided = false;
    std::vector<std::string> errors;
    size_t n_errors = 0;
    auto check = [&](bool ok, const std::string &msg) {
        if (ok) return;
        if (errors.size() < 8) errors.push_back(msg);
        n_errors++;
    };
    for (size_t n = 0; n < data.size(); n++) {
        const ch_info &r = parser.parse(prefix(data, n));
        const std::string where = "prefix " + std::to_string(n) + "/" +
                                  std::to_string(data.size()) + ": " + describe(r) + ": ";
        if (final_status == CH_OK && n >= *total) {
            // Everything after the hello's records is ignored.
            check(r.status == CH_OK && r.record_bytes == *total, where + "want ok");
        } else if (r.status == CH_NEED_MORE) {
            check(!decided, where + "undecided again after a verdict");
            check(r.need > n, where + "need <= prefix length");
            check(r.need <= parser.cap(), where + "needs more than the cap (TOO_BIG?)");
            if (total) {
                check(r.need <= *total, where + "need > total " + std::to_string(*total));
                check(!(r.flags & CH_F_NEED_EXACT) || r.need == *total,
                      where + "exact need != total " + std::to_string(*total));
            }
            check((r.flags & ~CH_F_NEED_EXACT) == 0, where + "result flags on NEED_MORE");
            check(r.reason == CH_R_NONE, where + "reason on NEED_MORE");
        } else {
            decided = true;
            check(r.status != CH_OK, where + "OK before the hello is complete");
            check(r.status == final_status,
                  where + "want " + std::string(sni::status_name(final_status)));
            if (final_reason && r.status == final_status) {
                check(r.reason == *final_reason,
                      where + "want reason " + std::string(sni::reason_name(*final_reason)));
            }
        }
    }
    EXPECT_EQ(n_errors, 0u) << e.name << ": " << n_errors << " bad prefixes, first:\n"
                            << chtest::join(errors, "\n");
}

// The same handshake payload re-framed into 1-byte records parses to the same result (body
// checks) and the record bytes grow accordingly.
// Only complete hellos, and hellos whose verdict is about the body, can be re-framed: the
// others are not instantiated (rather than skipped).
bool reframable(const Entry &e) {
    static const std::set<uint32_t> kRecordLevel = {CH_R_RECORD_VERSION, CH_R_RECORD_TYPE,
                                                    CH_R_RECORD_EMPTY, CH_R_RECORD_TOO_LONG,
                                                    CH_R_TRAILING_DATA};
    const auto reason = e.reason();
    return e.status() == CH_OK ||
           (e.status() == CH_MALFORMED && reason && !kRecordLevel.count(*reason));
}

std::vector<Entry> reframable_entries() {
    std::vector<Entry> out;
    for (const auto &e : chtest::all_entries())
        if (reframable(e)) out.push_back(e);
    return out;
}

class ClientHelloReframeTest : public testing::TestWithParam<Entry> {};

TEST_P(ClientHelloReframeTest, OneByteRecordsGiveTheSameResult) {
    const Entry &e = GetParam();
    const uint32_t status = e.status();
    const auto reason = e.reason();

    const Bytes data = chtest::read_file(e.input);
    const auto fr = chtest::unframe(data, status == CH_OK ? e.num("total") : data.size());
    ASSERT_FALSE(fr.payload.empty());
    const Bytes one = chtest::frame(fr.payload, 1, fr.first_version);

    sni::ClientHelloParser orig_parser(e.cap());
    ch_info orig;
    std::memcpy(&orig, &orig_parser.parse(data), sizeof orig);
    ASSERT_EQ(sni::status_name(orig.status), e.get("status"));

    sni::ClientHelloParser parser(CH_MAX_CAP);
    const ch_info &r = parser.parse(one);
    SCOPED_TRACE(e.name + " in " + std::to_string(fr.payload.size()) +
                 " 1-byte records: " + describe(r));
    if (one.size() > CH_MAX_CAP) {
        EXPECT_EQ(sni::status_name(r.status), "too_big");
        return;
    }
    ASSERT_EQ(sni::status_name(r.status), sni::status_name(status));
    if (status == CH_MALFORMED) {
        EXPECT_EQ(sni::reason_name(r.reason), sni::reason_name(*reason));
        return;
    }
    EXPECT_EQ(r.record_bytes, one.size());
    EXPECT_EQ(r.record_version, fr.first_version);
    EXPECT_EQ(sni::sni_of(r), sni::sni_of(orig));
    EXPECT_EQ(sni::alpn_protocols(r), sni::alpn_protocols(orig));
    EXPECT_EQ(r.alpn_total, orig.alpn_total);
    EXPECT_EQ(r.alpn_count, orig.alpn_count);
    EXPECT_EQ(sni::supported_versions(r), sni::supported_versions(orig));
    EXPECT_EQ(r.legacy_version, orig.legacy_version);
    EXPECT_EQ(r.hello_len, orig.hello_len);
    EXPECT_EQ(r.n_extensions, orig.n_extensions);
    EXPECT_EQ(chtest::flags_to_string(r.flags), chtest::flags_to_string(orig.flags));
    // ...and the expectation itself, where the entry states it.
    Entry body_only = e;
    body_only.kv.erase("record_bytes");
    body_only.kv.erase("record_version");
    expect_fields(body_only, r);
}

INSTANTIATE_TEST_SUITE_P(ClientHelloCorpus, ClientHelloEntryTest,
                         testing::ValuesIn(chtest::all_entries()), EntryName);
INSTANTIATE_TEST_SUITE_P(ClientHelloCorpus, ClientHelloReframeTest,
                         testing::ValuesIn(reframable_entries()), EntryName);

}  // namespace
