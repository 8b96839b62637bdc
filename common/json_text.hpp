// JSON string literals from untrusted bytes (access log, metrics tooling).
//
// The output is always printable ASCII, so a value can never break a line or end its string
// early: '"' and '\\' are escaped, \n \r \t \b \f use their short forms, every other byte below
// 0x20 and every byte from 0x7f up is written as \u00XX. Bytes >= 0x80 are thus read as
// Latin-1 (one code point per byte): a reader recovers the exact bytes by taking each code
// point of the decoded string as one byte (UTF-8 input such as U+2028 comes out as three
// escapes, \u00e2\u0080\u00a8, never as a raw line separator).
#pragma once

#include <string>
#include <string_view>

namespace sni::json {

// Appends "..." (with the quotes) to `out`.
void append_string(std::string &out, std::string_view bytes);
std::string quote(std::string_view bytes);

}  // namespace sni::json
