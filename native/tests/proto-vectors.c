/*
 * Decodes a protocol frame with the agent's C codec and prints it as one JSON line, so
 * test/protocol-vectors.test.ts can check the C and TypeScript sides agree on the same
 * vectors. Also re-encodes agent messages and checks the bytes round-trip.
 *   proto-vectors decode FILE.bin
 */
#include <stdio.h>
#include <string.h>
#include "../common/proto.h"

static void json_str(const char *key, const char *v)
{
	printf(",\"%s\":\"", key);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

int main(int argc, char **argv)
{
	static uint8_t buf[PROTO_HEADER + PROTO_MAX_PAYLOAD + 16], again[PROTO_HEADER + PROTO_MAX_PAYLOAD];
	static struct proto_msg m;
	if (argc != 3 || strcmp(argv[1], "decode")) {
		fprintf(stderr, "usage: proto-vectors decode FILE.bin\n");
		return 2;
	}
	FILE *f = fopen(argv[2], "rb");
	if (!f) {
		perror(argv[2]);
		return 2;
	}
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	const char *why = "truncated";
	uint16_t type;
	long len = n >= PROTO_HEADER ? proto_check_header(buf, &type, &why) : -1;
	if (len < 0 || (size_t)len + PROTO_HEADER > n) {
		printf("error: %s\n", len < 0 ? why : "truncated");
		return 1;
	}
	if ((size_t)len + PROTO_HEADER < n) {
		printf("error: trailing-bytes\n");
		return 1;
	}
	if (proto_decode(type, buf + PROTO_HEADER, (uint32_t)len, &m, &why)) {
		printf("error: %s\n", why);
		return 1;
	}
	long re = proto_encode(&m, again, sizeof(again));
	if (re != (long)n || memcmp(again, buf, n)) {
		printf("error: re-encoding differs\n");
		return 1;
	}
	printf("{\"type\":\"%s\"", proto_type_name(type));
	switch (type) {
	case MSG_HELLO:
		printf(",\"pid\":%u,\"ppid\":%u,\"flags\":%u,\"procId\":\"%llu\",\"pidns\":\"%llu\"", m.pid, m.ppid,
		       m.flags, (unsigned long long)m.proc_id, (unsigned long long)m.pidns);
		json_str("name", m.name);
		json_str("ckptDir", m.ckpt_dir);
		json_str("hostname", m.hostname);
		break;
	case MSG_WELCOME:
		printf(",\"procId\":\"%llu\"", (unsigned long long)m.proc_id);
		break;
	case MSG_SUSPEND:
	case MSG_RESUME:
	case MSG_LIST:
		printf(",\"ckptId\":\"%llu\"", (unsigned long long)m.ckpt_id);
		break;
	case MSG_RESUMED:
		printf(",\"ckptId\":\"%llu\",\"pauseNs\":\"%llu\"", (unsigned long long)m.ckpt_id,
		       (unsigned long long)m.pause_ns);
		break;
	case MSG_CAPTURED:
		printf(",\"ckptId\":\"%llu\",\"status\":%d,\"flags\":%u,\"writerPid\":%u",
		       (unsigned long long)m.ckpt_id, m.status, m.flags, m.writer_pid);
		json_str("message", m.message);
		break;
	case MSG_SUSPENDED:
		printf(",\"ckptId\":\"%llu\",\"status\":%d,\"nthreads\":%u", (unsigned long long)m.ckpt_id,
		       m.status, m.nthreads);
		break;
	case MSG_WRITE:
		printf(",\"ckptId\":\"%llu\"", (unsigned long long)m.ckpt_id);
		json_str("imagePath", m.image_path);
		printf(",\"shares\":[");
		for (uint32_t i = 0; i < m.nshares; i++) {
			struct proto_share sh;
			proto_share_at(&m, i, &sh);
			printf("%s{\"fd\":%d,\"flags\":%u,\"shareId\":\"%llu\"}", i ? "," : "", sh.fd, sh.flags,
			       (unsigned long long)sh.share_id);
		}
		printf("],\"shmSkip\":[");
		for (uint32_t i = 0; i < m.nshm; i++)
			printf("%s{\"key\":\"%llu\"}", i ? "," : "", (unsigned long long)proto_shm_skip_at(&m, i));
		printf("],\"flags\":%u", m.flags);
		break;
	case MSG_COMMIT:
		printf(",\"ckptId\":\"%llu\",\"flags\":%u", (unsigned long long)m.ckpt_id, m.flags);
		break;
	case MSG_LISTED:
		printf(",\"ckptId\":\"%llu\",\"procs\":[", (unsigned long long)m.ckpt_id);
		for (uint32_t i = 0; i < m.nprocs; i++) {
			struct proto_proc p;
			proto_proc_at(&m, i, &p);
			printf("%s{\"pid\":%u,\"ppid\":%u,\"pgid\":%u,\"sid\":%u,\"status\":%d,\"flags\":%u}", i ? "," : "",
			       p.pid, p.ppid, p.pgid, p.sid, p.status, p.flags);
		}
		printf("],\"shares\":[");
		for (uint32_t i = 0; i < m.nshares; i++) {
			struct proto_lshare sh;
			proto_lshare_at(&m, i, &sh);
			printf("%s{\"pid\":%u,\"fd\":%d,\"flags\":%u,\"shareId\":\"%llu\"}", i ? "," : "", sh.pid, sh.fd,
			       sh.flags, (unsigned long long)sh.share_id);
		}
		printf("],\"sems\":[");
		for (uint32_t i = 0; i < m.nsems; i++) {
			struct proto_sem s;
			proto_sem_at(&m, i, &s);
			printf("%s{\"id\":%d,\"key\":%u,\"mode\":%u,\"uid\":%u,\"gid\":%u,\"nsems\":%u}", i ? "," : "",
			       s.id, s.key, s.mode, s.uid, s.gid, s.nsems);
		}
		printf("],\"semvals\":[");
		for (uint32_t i = 0; i < m.nsemvals; i++)
			printf("%s{\"value\":%u}", i ? "," : "", proto_semval_at(&m, i));
		printf("],\"shmOwners\":[");
		for (uint32_t i = 0; i < m.nshm; i++) {
			struct proto_shm_owner o;
			proto_shm_owner_at(&m, i, &o);
			printf("%s{\"pid\":%u,\"key\":\"%llu\"}", i ? "," : "", o.pid, (unsigned long long)o.key);
		}
		printf("],\"shmSegs\":[");
		for (uint32_t i = 0; i < m.nshmsegs; i++) {
			struct proto_shmseg g;
			proto_shmseg_at(&m, i, &g);
			printf("%s{\"id\":%d,\"key\":%u,\"mode\":%u,\"uid\":%u,\"gid\":%u,\"size\":\"%llu\"}", i ? "," : "",
			       g.id, g.key, g.mode, g.uid, g.gid, (unsigned long long)g.size);
		}
		printf("],\"msgQueues\":[");
		for (uint32_t i = 0; i < m.nmsgqs; i++) {
			struct proto_msgq q;
			proto_msgq_at(&m, i, &q);
			printf("%s{\"id\":%d,\"key\":%u,\"mode\":%u,\"uid\":%u,\"gid\":%u,\"messages\":%u,\"bytes\":\"%llu\",\"qbytes\":\"%llu\"}",
			       i ? "," : "", q.id, q.key, q.mode, q.uid, q.gid, q.messages, (unsigned long long)q.bytes,
			       (unsigned long long)q.qbytes);
		}
		printf("],\"cttys\":[");
		for (uint32_t i = 0; i < m.ncttys; i++) {
			struct proto_ctty c;
			proto_ctty_at(&m, i, &c);
			printf("%s{\"pid\":%u,\"pty\":%u,\"foreground\":%d}", i ? "," : "", c.pid, c.pty, c.foreground);
		}
		printf("]");
		break;
	case MSG_WRITTEN:
		printf(",\"ckptId\":\"%llu\",\"status\":%d,\"imageBytes\":\"%llu\"", (unsigned long long)m.ckpt_id,
		       m.status, (unsigned long long)m.image_bytes);
		json_str("message", m.message);
		break;
	case MSG_KILL:
		break;
	default:
		printf(",\"json\":%.*s", (int)m.json_len, (const char *)m.json);
		break;
	}
	printf("}\n");
	return 0;
}
