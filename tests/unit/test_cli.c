/*
 * test_cli.c: the shared size parser (cli.c): what every program accepts
 * as a size, and that a sign, blanks or an overflow are refused.
 */
#include <stdint.h>

#include "evtape/cli.h"
#include "t.h"

int
main(void)
{
	static const struct {
		const char *s;
		uint64_t v;
	} ok[] = {
		{"0", 0}, {"4096", 4096}, {"1k", 1024}, {"1K", 1024},
		{"32M", 32u << 20}, {"10G", 10ull << 30}, {"2T", 2ull << 40},
		{"500MB", 500ull << 20}, {"7b", 7},
		{"18446744073709551615", UINT64_MAX}, {"16777215T", 16777215ull << 40},
	};
	static const char *const bad[] = {
		"", "-1", "-0", "+5", " 5", "5 ", "1kk", "1KiB", "k", "1.5G",
		"16777216T", "18446744073709551616", "0x10", "1e3",
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		v = 1;
		T_EQ(evt_cli_size(ok[i].s, &v), 0, "\"%s\" is a size", ok[i].s);
		T_OK(v == ok[i].v, "\"%s\" = %llu", ok[i].s,
		    (unsigned long long)ok[i].v);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		v = 1;
		T_EQ(evt_cli_size(bad[i], &v), -1, "\"%s\" is refused", bad[i]);
		T_OK(v == 1, "and leaves the value alone");
	}
	T_DONE();
}
