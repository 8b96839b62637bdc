// Placeholder for the control tool (issue #5): it refuses to run, loudly.
#include <cstdio>

int main() {
    std::fputs("sni-ctl: not yet implemented (issue #5)\n", stderr);
    return 2;
}
