/* One unit of the make -j2 test project. */
unsigned long part8(unsigned long x)
{
	unsigned long h = x ^ 8u;
	for (int k = 0; k < 1000; k++)
		h = h * 6364136223846793005ul + 1442695040888963407ul + (unsigned long)k * 8;
	return h;
}
