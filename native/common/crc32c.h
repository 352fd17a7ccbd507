/* CRC-32C (Castagnoli), the checksum of every image record. Freestanding. */
#ifndef STASIS_CRC32C_H
#define STASIS_CRC32C_H
#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: pass 0 to start. crc32c("123456789") == 0xe3069283. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);
#endif
