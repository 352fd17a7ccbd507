/* Wire protocol v1 (docs/protocol.md, the one definition): the agent's side. */
#ifndef STASIS_PROTO_H
#define STASIS_PROTO_H
#include <stdint.h>
#include <stddef.h>

#define PROTO_MAGIC 0x50535453u /* bytes "STSP" */
#define PROTO_VERSION 1
#define PROTO_HEADER 12
#define PROTO_MAX_PAYLOAD (1u << 20)

enum proto_type {
	MSG_HELLO = 0x01,
	MSG_WELCOME = 0x02,
	MSG_SUSPEND = 0x03,
	MSG_SUSPENDED = 0x04,
	MSG_WRITE = 0x05,
	MSG_WRITTEN = 0x06,
	MSG_RESUME = 0x07,
	MSG_RESUMED = 0x08,
	MSG_KILL = 0x09,
	MSG_REQUEST = 0x20,
	MSG_RESPONSE = 0x21,
	MSG_PROGRESS = 0x22,
};

#define HELLO_RESTARTED 1u
#define PROTO_STR_MAX 4096

/* Every message, decoded. Which fields are meaningful depends on `type`. */
struct proto_msg {
	uint16_t type;
	uint32_t pid, ppid, flags, nthreads;
	int32_t status;
	uint64_t proc_id, ckpt_id, image_bytes;
	char name[PROTO_STR_MAX];
	char ckpt_dir[PROTO_STR_MAX];
	char hostname[PROTO_STR_MAX];
	char image_path[PROTO_STR_MAX];
	char message[PROTO_STR_MAX];
	const uint8_t *json; /* REQUEST/RESPONSE/PROGRESS: points into the payload */
	uint32_t json_len;
};

/* Encodes `m` as one frame into buf; returns its length, or -1 if it does not fit. */
long proto_encode(const struct proto_msg *m, uint8_t *buf, size_t cap);

/*
 * Checks a 12-byte header. Returns the payload length, or -1 with *why set to a static
 * keyword shared with the TypeScript codec and the vectors: "bad-magic", "bad-version",
 * "too-long", "unknown-type".
 */
long proto_check_header(const uint8_t *h, uint16_t *type, const char **why);

/* Decodes a payload of a known type. Returns 0, or -1 with *why set to "short-payload",
 * "trailing-bytes", "bad-field" (a reserved field not 0, a string too long for us) or
 * "bad-utf8". */
int proto_decode(uint16_t type, const uint8_t *payload, uint32_t len, struct proto_msg *m,
		 const char **why);

const char *proto_type_name(uint16_t type);
#endif
