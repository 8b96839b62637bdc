// What every filter BIO of ours has in common: its data is one heap object of type State that
// the BIO owns (set with BIO_set_data after BIO_new, freed by destroy), and the controls it
// does not handle go to the BIO below. The prefix filter (common/prefix_bio.cpp) and the write
// coalescer (workers/write_coalescer.cpp) build their methods from these.
#pragma once

#include <openssl/bio.h>

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

}  // namespace sni::filter_bio
