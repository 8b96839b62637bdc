#include "common/filter_bio.hpp"

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

}  // namespace sni::filter_bio
