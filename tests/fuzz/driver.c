/*
 * driver.c: runs a libFuzzer target over files without libFuzzer, so that
 * `make test` replays every corpus (tests/fuzz/corpus/<target>/) with the
 * normal compiler.  Usage: fuzz_x FILE|DIR...  Prints one TAP line per
 * file; a crash fails the run.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int n;

/* Feeds one file to the target. */
static int
run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		printf("not ok %d - %s: cannot open\n", ++n, path);
		return 1;
	}
	fseek(f, 0, SEEK_END);
	long sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *buf = malloc(sz > 0 ? (size_t)sz : 1);
	size_t got = fread(buf, 1, (size_t)sz, f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, got);
	free(buf);
	printf("ok %d - %s\n", ++n, path);
	return 0;
}

int
main(int argc, char **argv)
{
	int bad = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			printf("not ok %d - %s: missing\n", ++n, argv[i]);
			bad++;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			bad += run_file(argv[i]);
			continue;
		}
		DIR *d = opendir(argv[i]);
		struct dirent *e;
		while (d != NULL && (e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			char p[4096];
			snprintf(p, sizeof p, "%s/%s", argv[i], e->d_name);
			bad += run_file(p);
		}
		if (d != NULL)
			closedir(d);
	}
	printf("1..%d\n", n);
	return bad != 0;
}
