#include "hello_builder.hpp"

#include <random>

namespace sni::itest {

namespace {

void put16(Bytes &b, std::size_t v) {
    b.push_back(static_cast<std::uint8_t>(v >> 8));
    b.push_back(static_cast<std::uint8_t>(v));
}

void put24(Bytes &b, std::size_t v) {
    b.push_back(static_cast<std::uint8_t>(v >> 16));
    put16(b, v & 0xffff);
}

void extension(Bytes &b, std::uint16_t type, const Bytes &body) {
    put16(b, type);
    put16(b, body.size());
    b.insert(b.end(), body.begin(), body.end());
}

Bytes records_of(const Bytes &handshake, std::size_t max_record, std::uint16_t version) {
    Bytes out;
    for (std::size_t off = 0; off < handshake.size(); off += max_record) {
        const std::size_t n = std::min(max_record, handshake.size() - off);
        out.push_back(0x16);
        put16(out, version);
        put16(out, n);
        out.insert(out.end(), handshake.begin() + static_cast<long>(off),
                   handshake.begin() + static_cast<long>(off + n));
    }
    return out;
}

}  // namespace

Bytes random_payload(std::size_t n, std::uint32_t seed) {
    std::mt19937 rng(seed);
    Bytes b(n);
    for (auto &x : b) x = static_cast<std::uint8_t>(rng());
    return b;
}

Bytes build_client_hello(const HelloSpec &spec) {
    Bytes body;
    put16(body, 0x0303);
    const Bytes random = random_payload(32, 7);
    body.insert(body.end(), random.begin(), random.end());
    body.push_back(32);  // session id
    const Bytes sid = random_payload(32, 8);
    body.insert(body.end(), sid.begin(), sid.end());
    put16(body, 8);  // cipher suites
    for (std::uint16_t cs : {0x1301, 0x1302, 0x1303, 0xc02f}) put16(body, cs);
    body.push_back(1);  // compression methods: null
    body.push_back(0);

    Bytes sni_ext;
    if (spec.sni) {
        Bytes list;
        list.push_back(0);  // host_name
        put16(list, spec.sni->size());
        list.insert(list.end(), spec.sni->begin(), spec.sni->end());
        Bytes b;
        put16(b, list.size());
        b.insert(b.end(), list.begin(), list.end());
        extension(sni_ext, 0, b);
    }
    Bytes key_share_ext;
    {
        Bytes entry;
        put16(entry, 0x001d);
        put16(entry, spec.key_share_bytes);
        const Bytes key = random_payload(spec.key_share_bytes, 9);
        entry.insert(entry.end(), key.begin(), key.end());
        Bytes b;
        put16(b, entry.size());
        b.insert(b.end(), entry.begin(), entry.end());
        extension(key_share_ext, 51, b);
    }

    Bytes exts;
    if (!spec.sni_after_key_share) exts.insert(exts.end(), sni_ext.begin(), sni_ext.end());
    extension(exts, 10, {0x00, 0x02, 0x00, 0x1d});              // supported_groups: x25519
    extension(exts, 13, {0x00, 0x04, 0x04, 0x03, 0x08, 0x04});  // signature_algorithms
    extension(exts, 43, {0x04, 0x03, 0x04, 0x03, 0x03});        // supported_versions
    exts.insert(exts.end(), key_share_ext.begin(), key_share_ext.end());
    if (spec.sni_after_key_share) exts.insert(exts.end(), sni_ext.begin(), sni_ext.end());
    if (spec.padding > 0) extension(exts, 21, Bytes(spec.padding, 0));

    put16(body, exts.size());
    body.insert(body.end(), exts.begin(), exts.end());

    Bytes hs;
    hs.push_back(1);  // client_hello
    put24(hs, body.size());
    hs.insert(hs.end(), body.begin(), body.end());
    return records_of(hs, spec.max_record, 0x0301);
}

Bytes handshake_payload(const Bytes &records) {
    Bytes out;
    std::size_t off = 0;
    while (off + 5 <= records.size()) {
        const std::size_t len = (std::size_t(records[off + 3]) << 8) | records[off + 4];
        if (off + 5 + len > records.size()) break;
        out.insert(out.end(), records.begin() + static_cast<long>(off + 5),
                   records.begin() + static_cast<long>(off + 5 + len));
        off += 5 + len;
    }
    return out;
}

Bytes reframe(const Bytes &records, std::size_t record_size) {
    const std::uint16_t version =
        records.size() >= 3 ? static_cast<std::uint16_t>((records[1] << 8) | records[2]) : 0x0301;
    return records_of(handshake_payload(records), record_size, version);
}

}  // namespace sni::itest
