/* Constants of image format v1 (docs/image-format.md, the one definition). */
#ifndef STASIS_IMG_H
#define STASIS_IMG_H

#define IMG_MAGIC "STASISIM"
#define IMG_VERSION 1
#define IMG_HEADER_SIZE 32
#define IMG_REC_MAGIC 0x43455253u /* "SREC" */
#define IMG_REC_HEADER 16
#define IMG_CHUNK_HEAD 32
#define IMG_CHUNK_ALIGN 4096
#define IMG_CHUNK_MAX (8u << 20)
/* CHUNK encodings. */
#define IMG_ENC_RAW 0
#define IMG_ENC_ZSTD 1 /* one zstd frame that decompresses to exactly raw_len bytes */
#define IMG_ENC_SHUF8_ZSTD 2 /* the same, of the memory byte-shuffled by 8 (common/shuffle.h) */

enum img_rec {
	REC_INFO = 1,
	REC_PROCESS = 2,
	REC_REGION = 3,
	REC_THREAD = 4,
	REC_FD = 5,
	REC_CHUNK = 6,
	REC_FILEDATA = 10, /* contents of a file the image recreates (a deleted one) */
	REC_FD_SHARE = 11,
	REC_FD_LOCK = 12,
	REC_PROC_STATE = 7,
	REC_THREAD_STATE = 8,
	REC_POSIX_TIMER = 9,
	REC_SEM_UNDO = 13, /* the process's SEM_UNDO adjustments on one SysV semaphore set */
	REC_REFS = 14,   /* pages whose bytes lie in a PARENT image */
	REC_END = 15,
	REC_PARENT = 16, /* an earlier image this one refers to (incremental images) */
	REC_PAGES = 17,  /* scattered pages, packed: an address list, then their data */
};

/* File header flags. A reader refuses an image with a flag it does not know. */
#define IMG_FLAG_INCREMENTAL 1ull /* may hold PARENT, REFS and PAGES records */
#define IMG_MAX_PARENTS 64
#define IMG_REF_SIZE 32           /* one REFS entry: addr, len, parent, reserved, record_at */
#define IMG_REFS_MAX 65536        /* entries in one REFS record */
#define IMG_PAGES_HEAD 16
#define IMG_PAGES_MAX 2048        /* pages in one PAGES record (8 MiB) */

enum img_region_kind {
	RK_ANON = 0,
	RK_FILE = 1,
	RK_HEAP = 2,
	RK_STACK = 3,
	RK_VDSO = 4,
	RK_VVAR = 5,
	RK_VVAR_VCLOCK = 6,
	RK_VSYSCALL = 7,
	RK_SHMEM_ANON = 8,
};

#define RF_SHARED 1u
#define RF_GROWSDOWN 2u
#define RF_CONTENT 4u /* a shared mapping of a tmpfs file (/dev/shm): its chunks are the file's
		       * content at checkpoint time; the restart puts the file back as it was */
#define RF_HUGEPAGE 8u    /* madvise(MADV_HUGEPAGE) was given (VmFlags "hg") */
#define RF_NOHUGEPAGE 16u /* madvise(MADV_NOHUGEPAGE) was given (VmFlags "nh") */
#define RF_ADVICE (RF_HUGEPAGE | RF_NOHUGEPAGE)

/* FD_SHARE flags: the same bits as the protocol's share flags (docs/protocol.md). */
#define SF_OWNER 1u      /* this process recreates the open file description */
#define SF_PIPE_OWNER 2u /* this process creates the pipe and refills it */
#define SF_PIPE 4u       /* a pipe other processes hold ends of */
#define SF_PTY 8u        /* a pty other processes hold ends of (its master is in the computation) */
#define SF_PTY_OWNER 16u /* this process makes the pty and refills it */
#define SF_PTY_CTTY 32u  /* the pty is a controlling terminal: stasis-init makes it, the owner takes it from init */
#define SF_KNOWN (SF_OWNER | SF_PIPE_OWNER | SF_PIPE | SF_PTY | SF_PTY_OWNER | SF_PTY_CTTY)

/* FD_LOCK kinds and types. */
#define LK_FLOCK 1u
#define LK_POSIX 2u
#define LK_OFD 3u
#define LK_READ 1u
#define LK_WRITE 2u
#define LK_EOF 0xffffffffffffffffull /* `end` of a lock to the end of the file, however long */

#define TF_LEADER 1u
#define TF_CKPT 2u

enum img_fd_kind {
	FK_REG = 1,
	FK_DIR = 2,
	FK_CHR = 3,
	FK_TTY = 4,
	FK_PIPE = 5,
	FK_EVENTFD = 6,
	FK_EPOLL = 7,
	FK_SIGNALFD = 8,
	FK_TIMERFD = 9,
	FK_INHERIT = 10,
	FK_DELETED = 11,
	FK_FIFO = 12,
	FK_PTY = 13,
};

/* FILEDATA: a 32-byte head, zeros to a 4096-aligned file offset, then the data. */
#define IMG_FILEDATA_HEAD 32
#define IMG_FILEDATA_MAX (8u << 20)
/* THREAD_STATE flags */
#define TSF_NO_NEW_PRIVS 1u
/* PROC_STATE flags */
#define PSF_CHILD_SUBREAPER 1u

/* A queued signal's siginfo: the kernel's 128-byte layout (si_signo at 0, si_code at 8). */
#define IMG_SIGINFO_SIZE 128
#define IMG_MAX_SIGINFO 4096    /* per queue */
#define IMG_MAX_AFFINITY 1024   /* bytes of CPU mask: 8192 CPUs */
#define IMG_NITIMER 3           /* ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF */

/* POSIX timer notify values (the kernel's sigev_notify). */
#define PT_SIGEV_SIGNAL 0
#define PT_SIGEV_NONE 1
#define PT_SIGEV_THREAD 2
#define PT_SIGEV_THREAD_ID 4

/* SEM_UNDO: at most this many adjustments per set (SEMMSL's ceiling), each in this range. */
#define IMG_MAX_SEM_ADJ 32000
#define IMG_SEM_ADJ_MIN (-32768)
#define IMG_SEM_ADJ_MAX 32767

#define IMG_NGREGS 23
#define IMG_NSIG 64
#define IMG_NRLIMIT 16

/*
 * The agent's restart-information block. The loader fills it in, at the address the
 * PROCESS record names, before any thread resumes. Versioned by magic; fixed layout
 * because both sides are Stasis code built from this header.
 */
#define RESTART_INFO_MAGIC 0x54525453u /* "STRT" */
#define RI_DROP_CAPS 1u /* each thread drops the capabilities the restore needed */
#define RI_VERSION 4    /* 2: the image files and address ranges the loader mapped; 3: bounds; 4: write tracking */
#define RI_MAX_IMAGES 8
#define RI_MAX_RANGES 4096
#define RI_MAX_BOUNDS 1024
#define RI_COORD_FD 1000 /* where the agent keeps its coordinator socket (if the fd limit allows) */
struct restart_info {
	unsigned int magic;
	unsigned int version;
	unsigned int coord_ip;   /* network byte order */
	unsigned short coord_port;
	unsigned short flags;       /* RI_* */
	unsigned long loader_start; /* the loader's relocated blob: unmapped by the agent */
	unsigned long loader_len;
	unsigned int nthreads;      /* threads the loader created, leader included */
	volatile int entered;       /* threads that reached the agent's restart entry */
	char ckpt_dir[4096];        /* empty: keep the one the process had */
	/* The image files whose chunks the loader mapped into place (MAP_PRIVATE): memory
	 * that reads as one of them is the process's anonymous memory, not a file mapping
	 * (capture.c). Kept across fork, as memory is; replaced by the next restart. */
	unsigned int nimages;
	unsigned int nranges;
	struct { unsigned long dev, ino; } images[RI_MAX_IMAGES];
	/* Where that memory was mapped, ascending: a quick test for the agent's wrappers
	 * (imagemem.c), which /proc/self/maps confirms (the program may have unmapped it). */
	struct { unsigned long start, end; } ranges[RI_MAX_RANGES];
	/* Where restored anonymous regions with huge-page advice (RF_ADVICE) begin and end,
	 * ascending: the pieces the restart split memory into are saved as one region again,
	 * but not across these, where the advice may change (capture.c). */
	unsigned int nbounds;
	unsigned int reserved;
	unsigned long bounds[RI_MAX_BOUNDS];
	/* Incremental checkpoints (agent/incr.c, loader/track.c). */
	unsigned int track;         /* agent -> loader: arm write tracking after the restore */
	int uffd;                   /* loader -> agent: the armed userfaultfd, or -1 */
	char image[4096];           /* loader -> agent: absolute path of the image restored */
};
#endif
