/* One unit of the make -j2 test project. */
unsigned long part6(unsigned long x)
{
	unsigned long h = x ^ 6u;
	for (int k = 0; k < 1000; k++)
		h = h * 6364136223846793005ul + 1442695040888963407ul + (unsigned long)k * 6;
	return h;
}
