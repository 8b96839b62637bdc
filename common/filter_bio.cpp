#include "common/filter_bio.hpp"

#include <openssl/err.h>

#include <new>

namespace sni::filter_bio {

int create(BIO *b) {
    BIO_set_data(b, nullptr);
    BIO_set_init(b, 1);
    return 1;
}

long callback_ctrl(BIO *b, int cmd, BIO_info_cb *fp) {
    BIO *next = BIO_next(b);
    return next != nullptr ? BIO_callback_ctrl(next, cmd, fp) : 0;
}

std::unique_ptr<std::uint8_t[]> new_buffer(std::size_t n) {
    std::unique_ptr<std::uint8_t[]> buf(new (std::nothrow) std::uint8_t[n]);
    if (!buf) ERR_raise(ERR_LIB_BIO, ERR_R_MALLOC_FAILURE);
    return buf;
}

long ctrl_below(BIO *b, int cmd, long num, void *ptr) {
    BIO *next = BIO_next(b);
    if (next == nullptr) return 0;
    const long ret = BIO_ctrl(next, cmd, num, ptr);
    if (cmd == BIO_CTRL_FLUSH) BIO_copy_next_retry(b);
    return ret;
}

int write_through(BIO *b, const char *in, std::size_t len, std::size_t *written) {
    *written = 0;
    BIO_clear_retry_flags(b);
    BIO *next = BIO_next(b);
    if (next == nullptr) return 0;
    const int ret = BIO_write_ex(next, in, len, written);
    BIO_copy_next_retry(b);
    return ret;
}

long holding_reader_ctrl(BIO *b, int cmd, long num, void *ptr, std::size_t held) {
    BIO *next = BIO_next(b);
    switch (cmd) {
        case BIO_CTRL_PENDING: {
            const long below = next != nullptr ? BIO_ctrl(next, cmd, num, ptr) : 0;
            return static_cast<long>(held) + (below > 0 ? below : 0);
        }
        case BIO_CTRL_EOF:
            if (held > 0) return 0;
            break;
        case BIO_CTRL_DUP:
            return 0;
        default:
            break;
    }
    return ctrl_below(b, cmd, num, ptr);
}

Method::Method(const char *name, const Operations &ops) {
    const int index = BIO_get_new_index();
    if (index == -1) return;
    type_ = index | BIO_TYPE_FILTER;
    method_ = BIO_meth_new(type_, name);
    if (method_ == nullptr) return;
    const bool ok =
        BIO_meth_set_create(method_, create) == 1 &&
        BIO_meth_set_callback_ctrl(method_, callback_ctrl) == 1 &&
        (ops.read_ex == nullptr || BIO_meth_set_read_ex(method_, ops.read_ex) == 1) &&
        (ops.write_ex == nullptr || BIO_meth_set_write_ex(method_, ops.write_ex) == 1) &&
        (ops.ctrl == nullptr || BIO_meth_set_ctrl(method_, ops.ctrl) == 1) &&
        (ops.gets == nullptr || BIO_meth_set_gets(method_, ops.gets) == 1) &&
        (ops.destroy == nullptr || BIO_meth_set_destroy(method_, ops.destroy) == 1);
    if (!ok) {
        BIO_meth_free(method_);
        method_ = nullptr;
    }
}

Method::~Method() {
    if (method_ != nullptr) BIO_meth_free(method_);
}

bool Method::made(BIO *b) const {
    return b != nullptr && method_ != nullptr && BIO_method_type(b) == type_;
}

void push_over(SSL *ssl, Side side, BIO *filter) {
    BIO *below = side == Side::kRead ? SSL_get_rbio(ssl) : SSL_get_wbio(ssl);
    // SSL_set0_rbio/wbio frees the reference the slot held on `below`; the filter's chain needs
    // one of its own (the other side may hold another on the same BIO).
    BIO_up_ref(below);
    BIO_push(filter, below);
    if (side == Side::kRead)
        SSL_set0_rbio(ssl, filter);
    else
        SSL_set0_wbio(ssl, filter);
}

}  // namespace sni::filter_bio
