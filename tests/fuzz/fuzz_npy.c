/*
 * libFuzzer target: npy_parse on arbitrary bytes. Any input must give either an error
 * with a message or an array whose shape, count and size agree with the input; ASan and
 * UBSan (built in by `make fuzz`) catch overreads, leaks and undefined behaviour.
 */
#include "io/alloc.h"
#include "io/error.h"
#include "io/npy.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct npy_array a;
	size_t count = 1;
	float sum = 0;

	if (npy_parse(data, size, "fuzz.npy", &a) != 0) {
		CHECK(kn_errmsg()[0] != '\0');
		return 0;
	}
	CHECK(a.ndim >= 0 && a.ndim <= NPY_MAX_DIMS);
	for (int i = 0; i < a.ndim; i++)
		CHECK(kn_size_mul(&count, count, a.shape[i]));
	CHECK(count == a.count);
	CHECK(a.count * sizeof(float) < size);
	/* The data is what ends the input, in order (byte for byte on little-endian hosts). */
	if (a.count)
		CHECK(memcmp(a.data, data + size - a.count * 4, a.count * 4) == 0);
	for (size_t i = 0; i < a.count; i++)
		sum += a.data[i];
	(void)sum;
	npy_free(&a);
	return 0;
}
