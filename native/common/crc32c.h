/* CRC-32C (Castagnoli), the checksum of every image record. Freestanding. */
#ifndef STASIS_CRC32C_H
#define STASIS_CRC32C_H
#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: pass 0 to start. crc32c("123456789") == 0xe3069283. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);
/* The CRC of A followed by B, from crc32c(0, A) and crc32c(0, B) and B's length: lets
 * threads checksum pieces that are put together later. */
uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, size_t len_b);
#endif
