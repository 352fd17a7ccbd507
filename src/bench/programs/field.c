/*
 * Bench workload "smooth field": N MiB of float64 holding a smooth 2-D field, the kind of
 * state a simulation keeps, then the heartbeat loop (heartbeat.h) until killed.
 *
 * The grid has 32768 columns; cell (i, j) holds a sum of three products of sines and
 * cosines in x = 2πj/32768 and y = 2πi/16384, plus one, rounded to single precision and
 * stored as a double (as a code does that computes in float and keeps doubles, or whose
 * input was float32). That rounding is what makes the data compressible the way real
 * fields are: neighbouring values share their sign, exponent and leading mantissa bits,
 * and the low 29 bits are zero. The same field at full double precision is noise below
 * the 20th bit or so, and zstd -1 shrinks it by only about 6%.
 *
 * The terms are separable, so the fill is three multiply-adds per cell from per-row and
 * per-column tables, fast enough to fill 4 GiB in seconds. Each heartbeat recomputes 64
 * random cells with the same function and compares them bit for bit.
 *
 * usage: field MIB
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include "heartbeat.h"

#define COLS 32768ull

static double xt[3][COLS];
static double *yt[3];

static double cell(uint64_t i, uint64_t j)
{
	double v = 1.0 + xt[0][j] * yt[0][i] + xt[1][j] * yt[1][i] + xt[2][j] * yt[2][i];
	return (double)(float)v;
}

int main(int argc, char **argv)
{
	if (argc != 2 || atol(argv[1]) <= 0 || ((uint64_t)atol(argv[1]) << 20) % (COLS * 8)) {
		fprintf(stderr, "usage: field MIB (a multiple of %llu)\n", COLS * 8 >> 20);
		return 2;
	}
	uint64_t cells = (uint64_t)atol(argv[1]) << 17;
	uint64_t rows = cells / COLS;
	double *grid = mmap(0, cells * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (int k = 0; k < 3; k++)
		yt[k] = malloc(rows * sizeof(double));
	if (grid == MAP_FAILED || !yt[0] || !yt[1] || !yt[2]) {
		perror("field: mmap");
		return 1;
	}
	for (uint64_t j = 0; j < COLS; j++) {
		double x = 2 * M_PI * (double)j / (double)COLS;
		xt[0][j] = sin(x);
		xt[1][j] = 0.5 * sin(3 * x + 0.7);
		xt[2][j] = 0.25 * cos(7 * x + 1.3);
	}
	for (uint64_t i = 0; i < rows; i++) {
		double y = 2 * M_PI * (double)i / 16384.0;
		yt[0][i] = cos(y);
		yt[1][i] = sin(2 * y + 0.3);
		yt[2][i] = cos(5 * y);
	}
	for (uint64_t i = 0; i < rows; i++)
		for (uint64_t j = 0; j < COLS; j++)
			grid[i * COLS + j] = cell(i, j);
	printf("ready %llu bytes, %llu x %llu cells\n", (unsigned long long)(cells * 8),
	       (unsigned long long)rows, COLS);
	fflush(stdout);

	uint64_t pick = 0x13198a2e03707344ull;
	struct hb hb;
	hb_init(&hb);
	for (;;) {
		if (!hb_tick(&hb))
			continue;
		uint64_t bad = cells;
		for (int k = 0; k < 64; k++) {
			pick ^= pick << 13, pick ^= pick >> 7, pick ^= pick << 17;
			uint64_t c = pick % cells;
			if (grid[c] != cell(c / COLS, c % COLS))
				bad = c;
		}
		char status[48] = "ok";
		if (bad != cells)
			snprintf(status, sizeof status, "BAD cell %llu", (unsigned long long)bad);
		hb_print(&hb, status);
	}
}
