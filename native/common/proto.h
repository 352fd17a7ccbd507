/* Wire protocol v4 (docs/protocol.md, the one definition): the agent's side. */
#ifndef STASIS_PROTO_H
#define STASIS_PROTO_H
#include <stdint.h>
#include <stddef.h>

#define PROTO_MAGIC 0x50535453u /* bytes "STSP" */
#define PROTO_VERSION 4
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
	MSG_LIST = 0x0a,
	MSG_LISTED = 0x0b,
	MSG_CAPTURED = 0x0c,
	MSG_COMMIT = 0x0d,
	MSG_REQUEST = 0x20,
	MSG_RESPONSE = 0x21,
	MSG_PROGRESS = 0x22,
};

#define HELLO_RESTARTED 1u
#define HELLO_INIT 2u       /* the peer is a namespace's init, not a process to checkpoint */
#define CAPTURED_FORKED 1u  /* a writer process finishes the image while the process runs on */
#define LISTED_ZOMBIE 1u
#define LISTED_STATIC 2u    /* a live process with neither the agent nor a dynamic loader mapped */
#define SHARE_OWNER 1u      /* restores the open file description, hands it to the others */
#define SHARE_PIPE_OWNER 2u /* saves the pipe's unread bytes, creates the pipe on restore */
#define SHARE_PIPE 4u       /* a pipe end whose pipe other processes hold too */
#define SHARE_PTY 8u        /* an end of a pty whose master is in the computation, held by several */
#define SHARE_PTY_OWNER 16u /* makes that pty on restore, saves its unread bytes */
#define SHARE_PTY_CTTY 32u  /* that pty is a controlling terminal: stasis-init makes it on restore */
#define WRITE_FLAG_TRACK 1u   /* WRITE: track written pages; refer to the last committed image */
#define WRITE_FLAG_FULL 2u    /* WRITE: store every page (still track for the next one) */
#define COMMIT_FLAG_COMMITTED 1u /* COMMIT: the generation counts */

/* List entries, decoded one at a time from the payload (fixed width on the wire). */
struct proto_share { int32_t fd; uint32_t flags; uint64_t share_id; };          /* WRITE: 16 bytes */
struct proto_proc { uint32_t pid, ppid, pgid, sid; int32_t status; uint32_t flags; }; /* LISTED: 24 */
struct proto_lshare { uint32_t pid; int32_t fd; uint32_t flags; uint64_t share_id; }; /* LISTED: 20 */
struct proto_sem { int32_t id; uint32_t key, mode, uid, gid, nsems; };                /* LISTED: 24 */
#define PROTO_SEM_SIZE 24
struct proto_shm_owner { uint32_t pid; uint64_t key; };                            /* LISTED: 12 */
#define PROTO_SHM_OWNER_SIZE 12
struct proto_shmseg { int32_t id; uint32_t key, mode, uid, gid; uint64_t size; };  /* LISTED: 28 */
#define PROTO_SHMSEG_SIZE 28
struct proto_msgq { int32_t id; uint32_t key, mode, uid, gid, messages; uint64_t bytes, qbytes; }; /* LISTED: 40 */
#define PROTO_MSGQ_SIZE 40
struct proto_ctty { uint32_t pid, pty; int32_t foreground; };                   /* LISTED: 12 */
#define PROTO_CTTY_SIZE 12
#define PROTO_SHARE_SIZE 16
#define PROTO_PROC_SIZE 24
#define PROTO_LSHARE_SIZE 20
#define PROTO_STR_MAX 4096

/* Every message, decoded. Which fields are meaningful depends on `type`. */
struct proto_msg {
	uint16_t type;
	uint32_t pid, ppid, flags, nthreads; /* flags: HELLO's, WRITE's or COMMIT's */
	int32_t status;
	uint64_t proc_id, ckpt_id, image_bytes, pidns;
	uint32_t writer_pid;  /* CAPTURED */
	uint64_t pause_ns;    /* RESUMED */
	char name[PROTO_STR_MAX];
	char ckpt_dir[PROTO_STR_MAX];
	char hostname[PROTO_STR_MAX];
	char image_path[PROTO_STR_MAX];
	char message[PROTO_STR_MAX];
	const uint8_t *json; /* REQUEST/RESPONSE/PROGRESS: points into the payload */
	uint32_t json_len;
	/* WRITE shares, LISTED procs and shares: the entries' wire bytes (into the payload
	 * when decoded; supplied by the caller, already encoded, when encoding). */
	const uint8_t *shares, *procs;
	uint32_t nshares, nprocs;
	const uint8_t *sems, *semvals; /* LISTED: SysV semaphore sets, then all their values (u32 each) */
	uint32_t nsems, nsemvals;
	const uint8_t *shm;            /* LISTED: shm owners; WRITE: keys to skip (u64 each) */
	uint32_t nshm;
	const uint8_t *shmsegs;        /* LISTED: SysV shm segments */
	uint32_t nshmsegs;
	const uint8_t *msgqs;          /* LISTED: SysV message queues */
	uint32_t nmsgqs;
	const uint8_t *cttys;          /* LISTED: processes whose controlling terminal is a pty of ours */
	uint32_t ncttys;
};

void proto_share_at(const struct proto_msg *m, uint32_t i, struct proto_share *out);
void proto_put_share(uint8_t *at, const struct proto_share *s);
void proto_proc_at(const struct proto_msg *m, uint32_t i, struct proto_proc *out);
void proto_put_proc(uint8_t *at, const struct proto_proc *p);
void proto_lshare_at(const struct proto_msg *m, uint32_t i, struct proto_lshare *out);
void proto_put_lshare(uint8_t *at, const struct proto_lshare *s);
void proto_sem_at(const struct proto_msg *m, uint32_t i, struct proto_sem *out);
void proto_put_sem(uint8_t *at, const struct proto_sem *s);
uint32_t proto_semval_at(const struct proto_msg *m, uint32_t i);
void proto_shm_owner_at(const struct proto_msg *m, uint32_t i, struct proto_shm_owner *out);
void proto_put_shm_owner(uint8_t *at, const struct proto_shm_owner *o);
uint64_t proto_shm_skip_at(const struct proto_msg *m, uint32_t i); /* WRITE */
void proto_shmseg_at(const struct proto_msg *m, uint32_t i, struct proto_shmseg *out);
void proto_put_shmseg(uint8_t *at, const struct proto_shmseg *s);
void proto_msgq_at(const struct proto_msg *m, uint32_t i, struct proto_msgq *out);
void proto_put_msgq(uint8_t *at, const struct proto_msgq *q);
void proto_ctty_at(const struct proto_msg *m, uint32_t i, struct proto_ctty *out);
void proto_put_ctty(uint8_t *at, const struct proto_ctty *c);

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
