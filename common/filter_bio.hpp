// What every filter BIO of ours has in common: its data is one heap object of type State that
// the BIO owns (set with BIO_set_data after BIO_new, freed by destroy), the controls it does not
// handle go to the BIO below, and its BIO_METHOD is made once and never changes. The prefix
// filter (common/prefix_bio.cpp), the write coalescer (workers/write_coalescer.cpp) and the
// record reader (workers/record_reader.cpp) are built from these.
#pragma once

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace sni::filter_bio {

template <class State>
State *state(BIO *b) {
    return static_cast<State *>(BIO_get_data(b));
}

// BIO_meth_set_create: no state yet, ready for use.
int create(BIO *b);

// BIO_meth_set_destroy: frees the State.
template <class State>
int destroy(BIO *b) {
    if (b == nullptr) return 0;
    delete state<State>(b);
    BIO_set_data(b, nullptr);
    BIO_set_init(b, 0);
    return 1;
}

// BIO_meth_set_callback_ctrl: to the BIO below; 0 when there is none.
long callback_ctrl(BIO *b, int cmd, BIO_info_cb *fp);

// A filter's buffer of `n` bytes, uninitialised; nullptr, with a malloc failure on OpenSSL's
// error queue, when memory is short (filters run inside OpenSSL's calls: nothing may throw).
std::unique_ptr<std::uint8_t[]> new_buffer(std::size_t n);

// A ctrl a filter passes on: to the BIO below (0 when there is none), with its retry flags after
// a flush.
long ctrl_below(BIO *b, int cmd, long num, void *ptr);

// BIO_meth_set_write_ex of a filter that only reads: to the BIO below, with its retry flags.
int write_through(BIO *b, const char *in, std::size_t len, std::size_t *written);

// The ctrl of a filter that holds `held` bytes read from below and not yet handed on: PENDING
// and EOF count them, DUP is refused (they belong to one stream), the rest goes to the BIO below.
long holding_reader_ctrl(BIO *b, int cmd, long num, void *ptr, std::size_t held);

// What a filter does; an operation left null is not set on the method.
struct Operations {
    int (*read_ex)(BIO *, char *, std::size_t, std::size_t *) = nullptr;
    int (*write_ex)(BIO *, const char *, std::size_t, std::size_t *) = nullptr;
    long (*ctrl)(BIO *, int, long, void *) = nullptr;
    int (*gets)(BIO *, char *, int) = nullptr;
    int (*destroy)(BIO *) = nullptr;  // destroy<State>
};

// One filter BIO_METHOD with a type of its own (BIO_get_new_index | BIO_TYPE_FILTER), with
// create and callback_ctrl above. method() is nullptr when OpenSSL could not make it.
class Method {
  public:
    Method(const char *name, const Operations &ops);
    ~Method();
    Method(const Method &) = delete;
    Method &operator=(const Method &) = delete;

    BIO_METHOD *method() const { return method_; }
    // Whether `b` is a filter of this method (false for nullptr).
    bool made(BIO *b) const;

  private:
    int type_ = 0;
    BIO_METHOD *method_ = nullptr;
};

enum class Side { kRead, kWrite };

// Puts `filter` over `ssl`'s BIO on `side`: the SSL's slot then holds the filter, and the
// filter's chain holds a reference of its own on the BIO below (the other side may share it).
void push_over(SSL *ssl, Side side, BIO *filter);

// A new filter of `m` owning `st`, pushed over `ssl`'s BIO on `side`. False, with `ssl`
// unchanged, when it could not be made.
template <class State>
bool push_new(SSL *ssl, Side side, const Method &m, std::unique_ptr<State> st) {
    BIO *below = side == Side::kRead ? SSL_get_rbio(ssl) : SSL_get_wbio(ssl);
    if (m.method() == nullptr || below == nullptr) return false;
    BIO *filter = BIO_new(m.method());
    if (filter == nullptr) return false;
    BIO_set_data(filter, st.release());
    push_over(ssl, side, filter);
    return true;
}

}  // namespace sni::filter_bio
