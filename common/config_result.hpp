// A value or an error, as a value (C++20 has no std::expected). Deliberately tiny.
#pragma once

#include <type_traits>
#include <utility>
#include <variant>

namespace sni::config {

// Wraps an error so that Result<T, E> can be built from it even when T and E are the same type.
template <typename E>
struct Unexpected {
    E error;
};
template <typename E>
Unexpected(E) -> Unexpected<E>;

template <typename E>
Unexpected<std::decay_t<E>> unexpected(E &&error) {
    return {std::forward<E>(error)};
}

template <typename T, typename E>
class [[nodiscard]] Result {
  public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit
    Result(Unexpected<E> error) : v_(std::in_place_index<1>, std::move(error.error)) {}  // NOLINT

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    // Preconditions: ok() for value(), !ok() for error().
    T &value() & { return std::get<0>(v_); }
    const T &value() const & { return std::get<0>(v_); }
    T &&value() && { return std::get<0>(std::move(v_)); }
    const E &error() const & { return std::get<1>(v_); }
    E &&error() && { return std::get<1>(std::move(v_)); }

    T *operator->() { return &value(); }
    const T *operator->() const { return &value(); }
    T &operator*() & { return value(); }
    const T &operator*() const & { return value(); }

  private:
    std::variant<T, E> v_;
};

}  // namespace sni::config
