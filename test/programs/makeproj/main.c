/* The make -j2 test project's program: combines every part. */
#include <stdio.h>
unsigned long part1(unsigned long), part2(unsigned long), part3(unsigned long), part4(unsigned long),
	part5(unsigned long), part6(unsigned long), part7(unsigned long), part8(unsigned long);
int main(void)
{
	unsigned long h = 1;
	for (int i = 0; i < 100; i++)
		h = part1(h) ^ part2(h) ^ part3(h) ^ part4(h) ^ part5(h) ^ part6(h) ^ part7(h) ^ part8(h);
	printf("program result %016lx\n", h);
	return 0;
}
