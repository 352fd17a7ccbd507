/*
 * Bench helper: writes BYTES of incompressible data (a counter hash, like memtouch's) to
 * FILE and fsyncs it. The bench copies it with dd as the raw-storage baseline when a
 * checkpoint's images are compressed and so are no longer "the same bytes" as the
 * memory they hold: dd must write as much as the program had in memory.
 *
 * usage: rawfile FILE BYTES
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static uint64_t mix(uint64_t i)
{
	uint64_t z = (i + 1) * 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

int main(int argc, char **argv)
{
	if (argc != 3 || atoll(argv[2]) <= 0) {
		fprintf(stderr, "usage: rawfile FILE BYTES\n");
		return 2;
	}
	uint64_t left = (uint64_t)atoll(argv[2]), w = 0;
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		perror("rawfile: open");
		return 1;
	}
	static uint64_t buf[1 << 17];
	while (left > 0) {
		for (size_t i = 0; i < sizeof buf / 8; i++)
			buf[i] = mix(w++);
		size_t n = left < sizeof buf ? (size_t)left : sizeof buf;
		if (write(fd, buf, n) != (ssize_t)n) {
			perror("rawfile: write");
			return 1;
		}
		left -= n;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		perror("rawfile: fsync");
		return 1;
	}
	return 0;
}
