/* crc32c.h - CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the
 * checksum of TFRecord framing (report/tfevents.c). Bit by bit: the records
 * it covers are small (scalars and histogram buckets, not the weights). */
#ifndef FMNIST_CRC32C_H
#define FMNIST_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C of p[0..n), continuing from crc (0 to start): crc32c(0, "123456789", 9)
 * is 0xE3069283. */
uint32_t crc32c(uint32_t crc, const void *p, size_t n);

#endif
