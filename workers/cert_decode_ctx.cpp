#include "workers/cert_decode_ctx.hpp"

#include <openssl/core_dispatch.h>
#include <openssl/evp.h>

#include <cstring>
#include <mutex>

#include "workers/ossl.hpp"

namespace sni::worker {

namespace {

constexpr const char *kProviderName = "sni-splitter-spki-decoders";

bool is_spki_der_decoder(const OSSL_ALGORITHM &a) {
    const char *p = a.property_definition;
    return p != nullptr && std::strstr(p, "input=der") != nullptr &&
           std::strstr(p, "structure=SubjectPublicKeyInfo") != nullptr;
}

// The default provider of the default library context and its decoders for DER
// SubjectPublicKeyInfo. Provider entry points take no user argument, so the wrapper finds
// them here: set once, before the first wrapper is loaded, and never changed.
struct Shared {
    OSSL_PROVIDER *real = nullptr;
    std::vector<OSSL_ALGORITHM> decoders;  // ends with the all-null entry
};

const Shared &shared(OSSL_PROVIDER *real = nullptr) {
    static Shared s;
    static std::once_flag once;
    std::call_once(once, [real] {
        s.real = real;
        int no_cache = 0;
        for (const OSSL_ALGORITHM *a =
                 OSSL_PROVIDER_query_operation(real, OSSL_OP_DECODER, &no_cache);
             a != nullptr && a->algorithm_names != nullptr; ++a)
            if (is_spki_der_decoder(*a)) s.decoders.push_back(*a);
        s.decoders.push_back(OSSL_ALGORITHM{nullptr, nullptr, nullptr, nullptr});
    });
    return s;
}

// The wrapper's entry points: everything is the default provider's, but the decoders.
const OSSL_ALGORITHM *wrapper_query(void *, int operation, int *no_cache) {
    const Shared &s = shared();
    if (operation == OSSL_OP_DECODER) {
        *no_cache = 0;
        return s.decoders.data();
    }
    return OSSL_PROVIDER_query_operation(s.real, operation, no_cache);
}

int wrapper_capabilities(void *, const char *capability, OSSL_CALLBACK *cb, void *arg) {
    return OSSL_PROVIDER_get_capabilities(shared().real, capability, cb, arg);
}

const OSSL_PARAM *wrapper_gettable_params(void *) {
    return OSSL_PROVIDER_gettable_params(shared().real);
}

int wrapper_get_params(void *, OSSL_PARAM params[]) {
    return OSSL_PROVIDER_get_params(shared().real, params);
}

void wrapper_teardown(void *) {}  // the provider context is the default provider's

using Fn = void (*)();
const OSSL_DISPATCH kWrapperDispatch[] = {
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, reinterpret_cast<Fn>(&wrapper_query)},
    {OSSL_FUNC_PROVIDER_GET_CAPABILITIES, reinterpret_cast<Fn>(&wrapper_capabilities)},
    {OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, reinterpret_cast<Fn>(&wrapper_gettable_params)},
    {OSSL_FUNC_PROVIDER_GET_PARAMS, reinterpret_cast<Fn>(&wrapper_get_params)},
    {OSSL_FUNC_PROVIDER_TEARDOWN, reinterpret_cast<Fn>(&wrapper_teardown)},
    {0, nullptr}};

// The algorithms keep the default provider's own context: they are its code.
int wrapper_init(const OSSL_CORE_HANDLE *, const OSSL_DISPATCH *, const OSSL_DISPATCH **out,
                 void **provctx) {
    const Shared &s = shared();
    if (s.real == nullptr) return 0;
    *provctx = OSSL_PROVIDER_get0_provider_ctx(s.real);
    *out = kWrapperDispatch;
    return 1;
}

}  // namespace

std::string CertDecodeCtx::not_applicable(unsigned long version,
                                          const std::vector<std::string> &active) {
    // 0xMNN00PP0L: major, minor, patch.
    const unsigned long major = version >> 28, minor = (version >> 20) & 0xff;
    if (major != 3 || minor != 0)
        return "OpenSSL " + std::to_string(major) + "." + std::to_string(minor) +
               " caches decoder contexts itself";
    for (const auto &name : active)
        if (name != "default" && name != "base")
            return "provider \"" + name + "\" is active in the default library context";
    return "";
}

config::Result<CertDecodeCtx, std::string> CertDecodeCtx::create() {
    OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, nullptr);
    std::vector<std::string> active;
    OSSL_PROVIDER_do_all(
        nullptr,
        [](OSSL_PROVIDER *p, void *arg) {
            static_cast<std::vector<std::string> *>(arg)->emplace_back(OSSL_PROVIDER_get0_name(p));
            return 1;
        },
        &active);
    if (std::string why = not_applicable(OpenSSL_version_num(), active); !why.empty())
        return config::unexpected(why);

    CertDecodeCtx out;
    out.real_.reset(OSSL_PROVIDER_load(nullptr, "default"));
    if (!out.real_)
        return config::unexpected("loading the default provider: " + take_openssl_errors());
    if (shared(out.real_.get()).real != out.real_.get())
        return config::unexpected(
            std::string("the default provider changed since the first context"));
    if (shared().decoders.size() < 2)
        return config::unexpected(std::string("the default provider has no SPKI decoders"));
    out.ctx_.reset(OSSL_LIB_CTX_new());
    if (!out.ctx_) return config::unexpected("OSSL_LIB_CTX_new: " + take_openssl_errors());
    if (OSSL_PROVIDER_add_builtin(out.ctx_.get(), kProviderName, &wrapper_init) != 1)
        return config::unexpected("adding the provider: " + take_openssl_errors());
    out.wrapper_.reset(OSSL_PROVIDER_load(out.ctx_.get(), kProviderName));
    if (!out.wrapper_) return config::unexpected("loading the provider: " + take_openssl_errors());
    return out;
}

}  // namespace sni::worker
