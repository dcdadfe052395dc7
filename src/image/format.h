/* SPDX-License-Identifier: MIT */
/*
 * The ckpt image format: one stream of typed records.
 *
 * Every record is a 24-byte header followed by `length` bytes of payload.
 * All integers are fixed-width little-endian; counts, sizes and offsets are
 * 64-bit.  doc/image-format.md describes the same layout for other tools.
 *
 * Stream order:
 *   HEAD, TREE,
 *   (FILE [EVENTFD | TIMERFD | SIGNALFD | UNIX_SOCKET SOCKET_QUEUE* | PIPE FILE_DATA* |
 *          INET_SOCKET INET_DATAGRAM* | TCP_STREAM TCP_QUEUE* | INOTIFY INOTIFY_WATCH* | PTY])*,
 *   EPOLL_TARGET*,
 *   then for each live process of the tree, in TREE order:
 *     PROCESS, CREDS, RLIMITS, SIGACTIONS, TIMERS, POSIX_TIMER*, FD*, FILE_LOCK*, MM, THREAD+,
 *     (SIGINFO | SECCOMP)*, VMA*, PAGES*
 *   TAIL
 * Files (open file descriptions, mapped files, shared memory objects) are
 * written once, before the processes that refer to them by id.  A reader
 * rejects a stream that breaks this order.
 */
#ifndef CKPT_IMAGE_FORMAT_H
#define CKPT_IMAGE_FORMAT_H

#include <stdint.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the image codec writes native integers and needs a little-endian host"
#endif

#define CKPT_IMAGE_MAGIC "CKPTIMG" /* 8 bytes with the NUL */
#define CKPT_TAIL_MAGIC "CKPTEND"
#define CKPT_FORMAT_VERSION 5
#define CKPT_ARCH_X86_64 62 /* ELF e_machine */

#define CKPT_PAGE_SIZE 4096u
#define CKPT_PATH_MAX 4096u /* bytes, NUL included */
#define CKPT_MAX_SIGNALS 64u
#define CKPT_MAX_RLIMITS 16u
#define CKPT_MAX_AUXV_WORDS 56u /* 448 bytes: the kernel's limit for PR_SET_MM_MAP */
#define CKPT_MAX_XSTATE 16384u
#define CKPT_MAX_GROUPS 65536u
#define CKPT_MAX_RECORD (64u << 20) /* no record may claim more */
#define CKPT_PAGES_PER_RECORD 1024u /* writer's batch: 4 MiB of data */
#define CKPT_MAX_PAGE_RUNS CKPT_PAGES_PER_RECORD
#define CKPT_AFFINITY_WORDS 16u /* 1024 CPUs */

enum ckpt_record_type {
	CKPT_RECORD_HEAD = 1,
	CKPT_RECORD_PROCESS = 2,
	CKPT_RECORD_CREDS = 3,
	CKPT_RECORD_RLIMITS = 4,
	CKPT_RECORD_SIGACTIONS = 5,
	CKPT_RECORD_FILE = 6,
	CKPT_RECORD_FD = 7,
	CKPT_RECORD_MM = 8,
	CKPT_RECORD_THREAD = 9,
	CKPT_RECORD_VMA = 10,
	CKPT_RECORD_PAGES = 11,
	CKPT_RECORD_TAIL = 12,
	CKPT_RECORD_TIMERS = 13,
	CKPT_RECORD_SIGINFO = 14,
	CKPT_RECORD_TREE = 15,
	CKPT_RECORD_PIPE = 16,
	CKPT_RECORD_EVENTFD = 17,
	CKPT_RECORD_TIMERFD = 18,
	CKPT_RECORD_SIGNALFD = 19,
	CKPT_RECORD_EPOLL_TARGET = 20,
	CKPT_RECORD_FILE_DATA = 21,
	CKPT_RECORD_UNIX_SOCKET = 22,
	CKPT_RECORD_SOCKET_QUEUE = 23,
	CKPT_RECORD_SECCOMP = 24,
	CKPT_RECORD_INET_SOCKET = 25,
	CKPT_RECORD_INET_DATAGRAM = 26,
	CKPT_RECORD_FILE_LOCK = 27,
	CKPT_RECORD_POSIX_TIMER = 28,
	CKPT_RECORD_INOTIFY = 29,
	CKPT_RECORD_INOTIFY_WATCH = 30,
	CKPT_RECORD_TCP_STREAM = 31,
	CKPT_RECORD_TCP_QUEUE = 32,
	CKPT_RECORD_PTY = 33,
	CKPT_RECORD_TYPE_COUNT
};

/*
 * checksum = CRC32C over the first 16 header bytes (type, flags, length)
 * followed by the payload (for PAGES: up to the end of the runs; the page
 * data has its own hash).  reserved must be zero.
 */
struct ckpt_record_header {
	uint32_t type;	 /* enum ckpt_record_type */
	uint32_t flags;	 /* none defined yet: must be zero */
	uint64_t length; /* payload bytes */
	uint32_t checksum;
	uint32_t reserved;
};

struct ckpt_head {
	char magic[8];	  /* CKPT_IMAGE_MAGIC */
	uint32_t version; /* CKPT_FORMAT_VERSION */
	uint32_t arch;	  /* CKPT_ARCH_X86_64 */
	uint32_t page_size;
	uint32_t xstate_size; /* bytes of one thread's XSAVE area */
	uint64_t xfeatures;   /* XCR0 of the checkpointing CPU */
	uint64_t realtime_ns; /* when the checkpoint was taken */
	uint64_t monotonic_ns;
	uint8_t boot_id[16]; /* monotonic times compare only within a boot */
	char kernel_release[65];
	char tool_version[31];
};

enum ckpt_tree_state {
	CKPT_TREE_ALIVE = 1,
	CKPT_TREE_ZOMBIE = 2, /* exited, not yet reaped by its parent */
};

/* One process of the tree; entry 0 is the root, parents come before children. */
struct ckpt_tree_entry {
	int32_t pid;
	int32_t ppid;
	int32_t pgid;	      /* 0: the leader is outside the checkpointer's PID namespace */
	int32_t sid;	      /* 0: likewise */
	uint32_t state;	      /* enum ckpt_tree_state */
	int32_t exit_status;  /* zombies: the wait status their parent will get */
	uint32_t exit_signal; /* sent to the parent at exit (SIGCHLD mostly) */
	uint32_t uid;	      /* highest of the real, effective, saved and fs uids */
	uint32_t gid;	      /* highest of the gids */
	uint32_t reserved;
	uint64_t capabilities; /* permitted | effective | inheritable | ambient */
	/*
	 * The first live process in tree order holding the same kernel object
	 * (clone with CLONE_VM, CLONE_FILES, CLONE_FS, CLONE_SIGHAND but not
	 * CLONE_THREAD); 0 or the pid itself when it is not shared.  Only the
	 * owner's image holds a shared memory map (VMAs, pages) or fd table.
	 */
	int32_t mm_owner;
	int32_t files_owner;
	int32_t fs_owner;
	int32_t sighand_owner;
};

struct ckpt_tree {
	uint32_t count;
	/* no FD record of any process is above it */
	uint32_t highest_fd;
	/* struct ckpt_tree_entry entries[count] */
};

#define CKPT_MAX_PROCESSES 65536u

struct ckpt_process {
	int32_t pid;
	int32_t ppid;
	int32_t pgid;
	int32_t sid;
	uint32_t thread_count;
	uint32_t umask;
	uint32_t personality;
	uint32_t cwd_length; /* bytes after this struct, NUL included */
	char comm[16];
	uint32_t prctl_flags; /* enum ckpt_process_prctl_flags */
	uint32_t thp_disable; /* PR_GET_THP_DISABLE: 0, 1, or 1 | PR_THP_DISABLE_EXCEPT_ADVISED */
	uint32_t dumpable;    /* PR_GET_DUMPABLE: 0, 1 (SUID_DUMP_USER) or 2 (SUID_DUMP_ROOT) */
	uint32_t reserved;
	int32_t oom_score_adj; /* /proc/PID/oom_score_adj: -1000..1000 */
	uint32_t loginuid;     /* /proc/PID/loginuid: 4294967295 when unset */
	uint32_t membarrier;   /* enum ckpt_membarrier_registrations */
	uint32_t reserved2;    /* 0 */
			       /* char cwd[cwd_length] */
};

/* MEMBARRIER_CMD_GET_REGISTRATIONS: the REGISTER commands this process has issued. */
enum ckpt_membarrier_registrations {
	CKPT_MEMBARRIER_GLOBAL_EXPEDITED = 1u << 2,  /* MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED */
	CKPT_MEMBARRIER_PRIVATE_EXPEDITED = 1u << 4, /* ..._REGISTER_PRIVATE_EXPEDITED */
	CKPT_MEMBARRIER_SYNC_CORE = 1u << 6,	     /* ..._REGISTER_PRIVATE_EXPEDITED_SYNC_CORE */
	CKPT_MEMBARRIER_RSEQ = 1u << 8,		     /* ..._REGISTER_PRIVATE_EXPEDITED_RSEQ */
	CKPT_MEMBARRIER_MASK = (1u << 2) | (1u << 4) | (1u << 6) | (1u << 8),
};

#define CKPT_OOM_SCORE_ADJ_MIN (-1000)
#define CKPT_OOM_SCORE_ADJ_MAX 1000

enum ckpt_process_prctl_flags {
	CKPT_PROCESS_CHILD_SUBREAPER = 1u << 0, /* PR_SET_CHILD_SUBREAPER */
	CKPT_PROCESS_PRCTL_FLAG_MASK = (1u << 1) - 1,
};

#define CKPT_THP_DISABLE_EXCEPT_ADVISED 2u /* PR_THP_DISABLE_EXCEPT_ADVISED (Linux 6.18) */
#define CKPT_SUID_DUMP_ROOT 2u
#define CKPT_SECUREBITS_MASK 0xfffu /* SECBIT_NOROOT ... SECBIT_EXEC_DENY_INTERACTIVE_LOCKED */
#define CKPT_MCE_KILL_DEFAULT 2u    /* PR_MCE_KILL_LATE 0, EARLY 1, DEFAULT 2 */

enum ckpt_uid_index {
	CKPT_ID_REAL,
	CKPT_ID_EFFECTIVE,
	CKPT_ID_SAVED,
	CKPT_ID_FS,
	CKPT_ID_COUNT
};

struct ckpt_creds {
	uint32_t uid[CKPT_ID_COUNT];
	uint32_t gid[CKPT_ID_COUNT];
	uint64_t cap_inheritable;
	uint64_t cap_permitted;
	uint64_t cap_effective;
	uint64_t cap_bounding;
	uint64_t cap_ambient;
	uint32_t no_new_privs;
	uint32_t group_count;
	/* uint32_t groups[group_count] */
};

struct ckpt_rlimit {
	uint64_t soft;
	uint64_t hard;
};

struct ckpt_rlimits {
	uint32_t count; /* CKPT_MAX_RLIMITS */
	uint32_t reserved;
	struct ckpt_rlimit limits[CKPT_MAX_RLIMITS];
};

struct ckpt_sigaction {
	uint64_t handler;
	uint64_t flags;
	uint64_t restorer;
	uint64_t mask;
};

struct ckpt_sigactions {
	uint32_t count; /* CKPT_MAX_SIGNALS; entry i is signal i+1 */
	uint32_t reserved;
	struct ckpt_sigaction actions[CKPT_MAX_SIGNALS];
};

/* Interval timers (setitimer): ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF. */
struct ckpt_itimer {
	uint64_t interval_us;
	uint64_t value_us; /* time to the next expiry, 0 when disarmed */
};

struct ckpt_timers {
	struct ckpt_itimer itimers[3];
};

#define CKPT_MAX_POSIX_TIMERS 65536u /* per process */
#define CKPT_MAX_FILE_LOCKS 65536u   /* per process */

/* How a POSIX timer notifies: the kernel's sigev_notify values. */
enum ckpt_timer_notify {
	CKPT_TIMER_NOTIFY_SIGNAL = 0,	 /* SIGEV_SIGNAL: the process */
	CKPT_TIMER_NOTIFY_NONE = 1,	 /* SIGEV_NONE */
	CKPT_TIMER_NOTIFY_THREAD = 2,	 /* SIGEV_THREAD as the kernel sees it: like SIGNAL */
	CKPT_TIMER_NOTIFY_THREAD_ID = 4, /* SIGEV_THREAD_ID: one thread (thread_id) */
};

/* A POSIX timer (timer_create), created again with the same id at restart. */
struct ckpt_posix_timer {
	int32_t id;	   /* the kernel's timer id, what timer_t holds */
	int32_t clock_id;  /* negative: the CPU clock of a process or thread */
	uint32_t notify;   /* enum ckpt_timer_notify */
	uint32_t signal;   /* 1..64; 0 with SIGEV_NONE */
	int32_t thread_id; /* SIGEV_THREAD_ID: the thread signalled; else 0 */
	int32_t overrun;   /* timer_getoverrun() at checkpoint: shown, not restored */
	uint64_t value;	   /* sigev_value */
	uint64_t interval_ns;
	uint64_t remaining_ns; /* until the next expiry; 0: disarmed */
};

enum ckpt_lock_kind {
	CKPT_LOCK_FLOCK = 1, /* flock(2): belongs to the open file description */
	CKPT_LOCK_POSIX = 2, /* fcntl F_SETLK, lockf: belongs to the process (its fd table) */
	CKPT_LOCK_OFD = 3,   /* fcntl F_OFD_SETLK: belongs to the open file description */
	CKPT_LOCK_LEASE = 4, /* fcntl F_SETLEASE: belongs to the open file description */
};

enum ckpt_lock_type {
	CKPT_LOCK_READ = 1,
	CKPT_LOCK_WRITE = 2,
};

/*
 * A lock this process holds, taken again through its fd `fd` at restart.
 * A lock of an open file description is written once, with the first fd
 * of the tree that refers to it.
 */
struct ckpt_file_lock {
	int32_t fd;
	uint32_t file_id; /* the fd's FILE */
	uint32_t kind;	  /* enum ckpt_lock_kind */
	uint32_t type;	  /* enum ckpt_lock_type */
	uint64_t start;	  /* POSIX and OFD: first byte; 0 for the others */
	uint64_t length;  /* bytes; 0: to the end of the file, however far it grows */
};

/* A pending signal: queued to one thread (tid) or to the process (tid 0). */
struct ckpt_siginfo {
	int32_t tid;
	uint32_t reserved;
	uint8_t info[128]; /* siginfo_t as the kernel reports it */
};

enum ckpt_file_kind {
	CKPT_FILE_REGULAR = 1,
	CKPT_FILE_DIRECTORY = 2,
	CKPT_FILE_CHARDEV = 3,
	CKPT_FILE_SHMEM = 4, /* shared anonymous memory, named by its first mapping */
	CKPT_FILE_PIPE = 5, /* an end of a pipe or FIFO: followed by PIPE and its FILE_DATA records */
	CKPT_FILE_EVENTFD = 6,	    /* followed by its EVENTFD record */
	CKPT_FILE_TIMERFD = 7,	    /* followed by its TIMERFD record */
	CKPT_FILE_SIGNALFD = 8,	    /* followed by its SIGNALFD record */
	CKPT_FILE_EPOLL = 9,	    /* its watched files: EPOLL_TARGET records after all FILEs */
	CKPT_FILE_UNIX_SOCKET = 10, /* followed by UNIX_SOCKET and its SOCKET_QUEUE records */
	CKPT_FILE_INET_SOCKET = 11, /* followed by INET_SOCKET and its INET_DATAGRAM records */
	CKPT_FILE_INOTIFY = 12,	    /* followed by INOTIFY and its INOTIFY_WATCH records */
	CKPT_FILE_TCP_STREAM = 13,  /* followed by TCP_STREAM and its TCP_QUEUE records */
	CKPT_FILE_PTY = 14, /* a pseudo-terminal master or slave: followed by its PTY record */
};

/* An open file description, or the file behind a mapping: written once. */
struct ckpt_file {
	uint32_t id;	     /* 1.., unique in the image */
	uint32_t kind;	     /* enum ckpt_file_kind */
	uint32_t open_flags; /* O_ACCMODE | O_APPEND | O_NONBLOCK | ... */
	uint32_t mode;	     /* st_mode at checkpoint */
	uint64_t offset;
	uint64_t device; /* st_dev */
	uint64_t inode;
	union {
		uint64_t rdev;	/* a character device's */
		uint64_t seals; /* a memfd's F_GET_SEALS */
	};
	uint64_t size;
	uint64_t mtime_ns;
	uint32_t path_length; /* bytes after this struct, NUL included */
	uint32_t flags;	      /* enum ckpt_file_flags */
			      /* char path[path_length] */
};

enum ckpt_file_flags {
	CKPT_FILE_MAPPED = 1u << 0, /* mapped or the exe: must be the same file on restart */
	CKPT_FILE_MEMFD = 1u << 1,  /* SHMEM only: a memfd, made again by memfd_create() */
	CKPT_FILE_GHOST = 1u << 2,
};

enum ckpt_eventfd_flags {
	CKPT_EVENTFD_SEMAPHORE = 1u << 0, /* EFD_SEMAPHORE */
};

/* An eventfd's state; follows its FILE record (kind EVENTFD). */
struct ckpt_eventfd {
	uint32_t file_id;
	uint32_t flags;	  /* enum ckpt_eventfd_flags */
	uint64_t counter; /* below 2^64 - 1 */
};

enum ckpt_unix_socket_flags {
	CKPT_UNIX_PASSCRED = 1u << 0, /* SO_PASSCRED was on */
};

enum ckpt_unix_shutdown {
	CKPT_UNIX_SHUT_RD = 1u << 0, /* the kernel's RCV_SHUTDOWN */
	CKPT_UNIX_SHUT_WR = 1u << 1, /* the kernel's SEND_SHUTDOWN */
};

/*
 * One end of a unix socketpair; follows its FILE record (kind UNIX_SOCKET).
 * Its peer is another UNIX_SOCKET file of the image naming this one back.
 * The bytes or messages waiting in its receive queue follow as SOCKET_QUEUE
 * records, oldest first.
 */
struct ckpt_unix_socket {
	uint32_t file_id;
	uint32_t type; /* SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET */
	uint32_t peer_file_id;
	uint32_t shutdown; /* enum ckpt_unix_shutdown */
	uint32_t rcvbuf;   /* SO_RCVBUF and SO_SNDBUF as getsockopt() reports them */
	uint32_t sndbuf;
	uint32_t flags;	   /* enum ckpt_unix_socket_flags */
	uint32_t reserved; /* 0 */
};

/*
 * Data waiting to be read from a unix socket: a stream's bytes (any split)
 * or one whole datagram / packet.  Followed by length bytes of data.
 */
struct ckpt_socket_queue {
	uint32_t file_id;
	uint32_t length; /* at most CKPT_MAX_SOCKET_DATA */
};

#define CKPT_MAX_SOCKET_DATA (1u << 20)

enum ckpt_inet_state {
	CKPT_INET_OPEN = 1,	   /* neither listening nor connected; bound when local_port != 0 */
	CKPT_INET_LISTENING = 2,   /* TCP only: bound, then listen(backlog) */
	CKPT_INET_CONNECTED = 3,   /* UDP only: bound, then connect() to the remote address */
	CKPT_INET_ESTABLISHED = 4, /* TCP only, in a TCP_STREAM record: an established connection */
};

enum ckpt_inet_flags {
	CKPT_INET_REUSEADDR = 1u << 0, /* SO_REUSEADDR */
	CKPT_INET_REUSEPORT = 1u << 1, /* SO_REUSEPORT */
	CKPT_INET_V6ONLY = 1u << 2,    /* IPV6_V6ONLY (IPv6 only) */
	CKPT_INET_NODELAY = 1u << 3,   /* TCP_NODELAY (TCP only) */
	CKPT_INET_KEEPALIVE = 1u << 4, /* SO_KEEPALIVE */
};

#define CKPT_INET_FLAGS_ALL 0x1fu
#define CKPT_INET_DEVICE_SIZE 16u /* IFNAMSIZ */

/*
 * A TCP or UDP socket, IPv4 or IPv6; follows its FILE record (kind
 * INET_SOCKET).  Addresses are in network byte order (an IPv4 address in
 * the first 4 bytes, the rest zero), ports in host order.  A UDP socket's
 * waiting datagrams follow as INET_DATAGRAM records, oldest first.
 */
struct ckpt_inet_socket {
	uint32_t file_id;
	uint16_t family; /* AF_INET or AF_INET6 */
	uint16_t type;	 /* SOCK_STREAM (TCP) or SOCK_DGRAM (UDP) */
	uint32_t state;	 /* enum ckpt_inet_state */
	uint32_t flags;	 /* enum ckpt_inet_flags */
	uint8_t local_address[16];
	uint16_t local_port;
	uint16_t reserved;	    /* 0 */
	uint32_t scope_id;	    /* an IPv6 link-local address's interface; 0 otherwise */
	uint8_t remote_address[16]; /* CONNECTED only; zero otherwise */
	uint16_t remote_port;
	uint16_t reserved2; /* 0 */
	uint32_t backlog;   /* LISTENING: the listen() backlog the kernel kept; 0 otherwise */
	uint32_t rcvbuf;    /* SO_RCVBUF and SO_SNDBUF as getsockopt() reports them */
	uint32_t sndbuf;
	uint32_t keepalive_idle; /* TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT (TCP; 0 for UDP) */
	uint32_t keepalive_interval;
	uint32_t keepalive_count;
	uint32_t defer_accept;		    /* TCP_DEFER_ACCEPT seconds (TCP; 0 for UDP) */
	uint32_t fastopen;		    /* TCP_FASTOPEN queue length (TCP; 0 for UDP) */
	uint32_t reserved3;		    /* 0 */
	char device[CKPT_INET_DEVICE_SIZE]; /* SO_BINDTODEVICE, NUL-terminated; "" when unbound */
};

/*
 * A datagram waiting in a UDP socket, with the address it came from;
 * followed by length bytes of data.  Its first two fields are those of
 * struct ckpt_socket_queue (the loader keeps both kinds of queue records
 * alike).
 */
struct ckpt_inet_datagram {
	uint32_t file_id;
	uint32_t length; /* at most CKPT_MAX_INET_DATAGRAM */
	uint8_t source_address[16];
	uint16_t source_port;
	uint16_t source_family; /* AF_INET or AF_INET6 */
	uint32_t reserved;	/* 0 */
};

#define CKPT_MAX_INET_DATAGRAM 65535u

enum ckpt_pipe_flags {
	CKPT_PIPE_PACKETS = 1u << 0, /* an end has O_DIRECT: each FILE_DATA record is one packet */
};

/*
 * One open file description of a pipe (path "pipe:[INODE]") or FIFO (its
 * absolute path); follows its FILE record (kind PIPE), whose open_flags
 * say which end it is (O_RDONLY, O_WRONLY or O_RDWR), O_NONBLOCK and
 * O_DIRECT.  Every end of one pipe names the pipe's first FILE in
 * pipe_file_id; only that FILE carries the bytes in flight, as FILE_DATA
 * records, oldest first (with CKPT_PIPE_PACKETS one record per packet,
 * at most CKPT_PAGE_SIZE bytes each).
 */
struct ckpt_pipe {
	uint32_t file_id;
	uint32_t pipe_file_id; /* the pipe's first FILE: itself or an earlier one */
	uint32_t pipe_size; /* F_GETPIPE_SZ: a power of two, CKPT_MIN_PIPE_SIZE .. CKPT_MAX_PIPE_SIZE */
	uint32_t flags;	    /* enum ckpt_pipe_flags */
};

#define CKPT_MIN_PIPE_SIZE 4096u
#define CKPT_MAX_PIPE_SIZE (1u << 31)

/* Bytes in flight in a pipe: followed by length bytes of data. */
struct ckpt_file_data {
	uint32_t file_id;
	uint32_t length; /* 1 .. CKPT_MAX_FILE_DATA */
};

#define CKPT_MAX_FILE_DATA (1u << 20)
enum ckpt_tcp_options {
	CKPT_TCP_TIMESTAMPS = 1u << 0, /* TCPI_OPT_TIMESTAMPS: both ends send timestamps */
	CKPT_TCP_SACK = 1u << 1,       /* TCPI_OPT_SACK */
	CKPT_TCP_WSCALE = 1u << 2,     /* TCPI_OPT_WSCALE: snd_wscale and rcv_wscale hold */
};

#define CKPT_TCP_OPTIONS_ALL 0x7u
#define CKPT_TCP_MAX_WSCALE 14u

/*
 * An established TCP connection, rebuilt with TCP_REPAIR; follows its FILE
 * record (kind TCP_STREAM).  `socket` holds its addresses and options as
 * for a listener (state CKPT_INET_ESTABLISHED, remote address set).  The
 * sequence numbers are those after the last queued byte: the send queue
 * starts at send_seq - send_queue_length, the receive queue at recv_seq -
 * recv_queue_length.  The queued bytes follow as TCP_QUEUE records, the
 * receive queue first, then the send queue, each in order.
 */
struct ckpt_tcp_stream {
	struct ckpt_inet_socket socket; /* file_id first */
	uint32_t send_seq;		/* TCP_QUEUE_SEQ of the send queue (write_seq) */
	uint32_t recv_seq;		/* TCP_QUEUE_SEQ of the receive queue (rcv_nxt) */
	uint32_t send_queue_length;	/* bytes sent but not acknowledged, then not yet sent */
	uint32_t unsent_length;		/* of those, not yet sent (the tail) */
	uint32_t recv_queue_length;	/* bytes received, not yet read */
	uint32_t options;		/* enum ckpt_tcp_options */
	uint32_t mss;			/* TCP_MAXSEG */
	uint8_t snd_wscale;		/* WSCALE only; 0 otherwise */
	uint8_t rcv_wscale;
	uint16_t reserved;  /* 0 */
	uint32_t timestamp; /* TCP_TIMESTAMP */
	uint32_t snd_wl1;   /* TCP_REPAIR_WINDOW */
	uint32_t snd_wnd;
	uint32_t max_window;
	uint32_t rcv_wnd;
	uint32_t rcv_wup;
	uint32_t reserved2; /* 0 */
};

enum ckpt_tcp_queue_kind {
	CKPT_TCP_RECV_QUEUE = 1,
	CKPT_TCP_SEND_QUEUE = 2,
};

/*
 * A part of a TCP connection's receive or send queue; followed by length
 * bytes.  Its first two fields are those of struct ckpt_socket_queue.
 */
struct ckpt_tcp_queue {
	uint32_t file_id;
	uint32_t length;   /* 1 to CKPT_MAX_SOCKET_DATA */
	uint32_t queue;	   /* enum ckpt_tcp_queue_kind */
	uint32_t reserved; /* 0 */
};

#define CKPT_MAX_TCP_QUEUE (64u << 20) /* bytes in one queue, all its records */

enum ckpt_timerfd_flags {
	CKPT_TIMERFD_ABSTIME = 1u << 0,	      /* TFD_TIMER_ABSTIME */
	CKPT_TIMERFD_CANCEL_ON_SET = 1u << 1, /* TFD_TIMER_CANCEL_ON_SET */
};

/*
 * A timerfd's state; follows its FILE record (kind TIMERFD).  A timer is
 * armed when remaining_ns is not 0.  Restart keeps the remaining time,
 * except for an absolute timer on a wall clock (REALTIME, REALTIME_ALARM,
 * TAI), which keeps its deadline expiry_ns on that clock.
 */
struct ckpt_timerfd {
	uint32_t file_id;
	int32_t clock_id;	/* CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, ... */
	uint32_t settime_flags; /* enum ckpt_timerfd_flags */
	uint32_t reserved;
	uint64_t interval_ns;
	uint64_t remaining_ns; /* to the next expiry at checkpoint, 0 when disarmed */
	uint64_t expiry_ns;    /* absolute timers: the next expiry on clock_id */
	uint64_t ticks;	       /* expirations not read yet */
};

/* A signalfd's mask; follows its FILE record (kind SIGNALFD). */
struct ckpt_signalfd {
	uint32_t file_id;
	uint32_t reserved;
	uint64_t mask; /* bit n-1: signal n */
};

/*
 * One file watched by an epoll, as registered: the fd number it was added
 * under (in the first process of the stream that holds the epoll), the
 * FILE it is, its event mask (EPOLLIN ..., EPOLLET, EPOLLONESHOT,
 * EPOLLEXCLUSIVE, EPOLLWAKEUP) and user data.
 */
struct ckpt_epoll_target {
	uint32_t epoll_file_id;
	uint32_t target_file_id;
	int32_t fd;
	uint32_t events;
	uint64_t data;
};

enum ckpt_fd_flags {
	CKPT_FD_CLOEXEC = 1u << 0,
	CKPT_FD_INHERIT = 1u << 1, /* taken over from the restarting ckpt */
};

enum ckpt_inherit_kind {
	CKPT_INHERIT_NONE = 0,
	CKPT_INHERIT_TTY = 1,
	CKPT_INHERIT_PIPE = 2,
	CKPT_INHERIT_SOCKET = 3,
};

struct ckpt_fd {
	int32_t fd;
	uint32_t flags;	       /* enum ckpt_fd_flags */
	uint32_t file_id;      /* 0 when inherited */
	uint32_t inherit_kind; /* enum ckpt_inherit_kind */
};

enum ckpt_mm_field {
	CKPT_MM_START_CODE,
	CKPT_MM_END_CODE,
	CKPT_MM_START_DATA,
	CKPT_MM_END_DATA,
	CKPT_MM_START_BRK,
	CKPT_MM_BRK,
	CKPT_MM_START_STACK,
	CKPT_MM_ARG_START,
	CKPT_MM_ARG_END,
	CKPT_MM_ENV_START,
	CKPT_MM_ENV_END,
	CKPT_MM_FIELD_COUNT
};

struct ckpt_mm {
	uint64_t fields[CKPT_MM_FIELD_COUNT]; /* enum ckpt_mm_field */
	uint32_t exe_file_id;		      /* FILE record of /proc/PID/exe, 0 if none */
	uint32_t auxv_words;		      /* uint64 words after this struct */
	uint64_t lock_future;		      /* enum ckpt_mm_lock_future: mlockall(MCL_FUTURE) */
					      /* uint64_t auxv[auxv_words] */
};

/* mlockall(MCL_FUTURE): new mappings of this memory map are locked (mm->def_flags). */
enum ckpt_mm_lock_future {
	CKPT_MM_LOCK_FUTURE = 1u << 0,	/* MCL_FUTURE */
	CKPT_MM_LOCK_ONFAULT = 1u << 1, /* with FUTURE: MCL_ONFAULT */
	CKPT_MM_LOCK_MASK = (1u << 2) - 1,
};

/* x86_64 struct user_regs_struct, in its order. */
enum {
	CKPT_GP_REGS = 27
};

enum ckpt_thread_flags {
	/* The thread was inside a syscall; regs already re-run it. */
	CKPT_THREAD_SYSCALL_RESTART = 1u << 0,
	CKPT_THREAD_NO_NEW_PRIVS = 1u << 1, /* PR_SET_NO_NEW_PRIVS (per thread) */
	CKPT_THREAD_FLAG_MASK = (1u << 2) - 1,
};

struct ckpt_thread {
	int32_t tid;
	uint32_t flags; /* enum ckpt_thread_flags */
	uint64_t regs[CKPT_GP_REGS];
	uint64_t sigmask;
	uint64_t altstack_sp;
	uint64_t altstack_size;
	uint32_t altstack_flags;
	uint32_t rseq_length;
	uint64_t rseq_address;
	uint32_t rseq_signature;
	uint32_t reserved;
	uint64_t robust_list;
	uint64_t robust_list_length;
	uint64_t clear_child_tid;
	uint64_t interrupted_syscall; /* orig_rax when frozen in a syscall */
	char comm[16];		      /* the thread's name (/proc/PID/task/TID/comm) */
	uint32_t xstate_size;	      /* bytes after this struct */
	uint32_t reserved2;
	uint64_t timer_slack_ns;  /* PR_GET_TIMERSLACK */
	uint32_t pdeath_signal;	  /* PR_GET_PDEATHSIG: 0 or 1..64 */
	uint32_t securebits;	  /* PR_GET_SECUREBITS (keep-caps is SECBIT_KEEP_CAPS) */
	uint32_t mce_kill_policy; /* PR_MCE_KILL_GET: 0 late, 1 early, 2 default */
	uint32_t reserved3;
	uint32_t seccomp_mode;	       /* enum ckpt_seccomp_mode */
	uint32_t seccomp_filter_count; /* SECCOMP records of this thread */
	/* sched_getattr(): struct sched_attr's fields */
	uint32_t sched_policy;	 /* SCHED_OTHER 0, FIFO 1, RR 2, BATCH 3, IDLE 5, DEADLINE 6 */
	uint32_t sched_flags;	 /* enum ckpt_sched_flags */
	int32_t sched_nice;	 /* -20..19 */
	uint32_t sched_priority; /* FIFO, RR: 1..99; others 0 */
	uint64_t sched_runtime;	 /* ns: DEADLINE's runtime; OTHER, BATCH: the slice (Linux 6.12) */
	uint64_t sched_deadline; /* DEADLINE only, else 0 */
	uint64_t sched_period;
	uint32_t sched_util_min; /* utilization clamp: 0..1024 */
	uint32_t sched_util_max;
	uint64_t affinity[CKPT_AFFINITY_WORDS]; /* sched_getaffinity: bit n is CPU n; none: not saved */
						/* uint8_t xstate[xstate_size] */
};

enum ckpt_seccomp_mode {
	CKPT_SECCOMP_DISABLED = 0,
	CKPT_SECCOMP_STRICT = 1, /* SECCOMP_MODE_STRICT: no filter */
	CKPT_SECCOMP_FILTER = 2, /* SECCOMP_MODE_FILTER: seccomp_filter_count >= 1 */
};

enum ckpt_sched_flags {
	CKPT_SCHED_RESET_ON_FORK = 1u << 0, /* SCHED_FLAG_RESET_ON_FORK */
	CKPT_SCHED_DL_OVERRUN = 1u << 2,    /* SCHED_FLAG_DL_OVERRUN */
	CKPT_SCHED_FLAG_MASK = CKPT_SCHED_RESET_ON_FORK | CKPT_SCHED_DL_OVERRUN,
};

#define CKPT_SCHED_UTIL_MAX 1024u

/*
 * One seccomp filter of a thread (classic BPF, as PTRACE_SECCOMP_GET_FILTER
 * gives it back), followed by instruction_count struct sock_filter (8 bytes
 * each).  A thread's filters come oldest first, after the THREAD records;
 * restart installs them in that order, so the newest runs first again.
 */
struct ckpt_seccomp {
	int32_t tid;
	uint32_t flags;		    /* enum ckpt_seccomp_flags */
	uint32_t instruction_count; /* 1..CKPT_MAX_SECCOMP_INSTRUCTIONS */
	uint32_t reserved;	    /* 0 */
};

enum ckpt_seccomp_flags {
	CKPT_SECCOMP_LOG = 1u << 0, /* SECCOMP_FILTER_FLAG_LOG */
	CKPT_SECCOMP_FLAG_MASK = (1u << 1) - 1,
};

#define CKPT_MAX_SECCOMP_INSTRUCTIONS 4096u /* BPF_MAXINSNS */
#define CKPT_MAX_SECCOMP_FILTERS 8192u	    /* per thread; the kernel's path limit is lower */

enum ckpt_vma_kind {
	CKPT_VMA_ANON = 1, /* private anonymous (heap, stack, mmap) */
	CKPT_VMA_FILE_PRIVATE = 2,
	CKPT_VMA_FILE_SHARED = 3,
	CKPT_VMA_SHARED_ANON = 4,
	CKPT_VMA_VDSO = 5,
	CKPT_VMA_VVAR = 6,
	CKPT_VMA_VVAR_VCLOCK = 7,
};

enum ckpt_vma_flags {
	CKPT_VMA_GROWSDOWN = 1u << 0,
	CKPT_VMA_HUGEPAGE = 1u << 1,
	CKPT_VMA_NOHUGEPAGE = 1u << 2,
	CKPT_VMA_DONTFORK = 1u << 3,
	CKPT_VMA_DONTDUMP = 1u << 4,
	CKPT_VMA_WIPEONFORK = 1u << 5,
	CKPT_VMA_MAYWRITE = 1u << 6,
	CKPT_VMA_HEAP = 1u << 7,  /* informational: [heap] */
	CKPT_VMA_STACK = 1u << 8, /* informational: [stack] */
	CKPT_VMA_NORESERVE = 1u << 9,
	CKPT_VMA_MERGEABLE = 1u << 10,	 /* MADV_MERGEABLE */
	CKPT_VMA_LOCKED = 1u << 11,	 /* mlock, mlock2, mlockall(MCL_CURRENT) */
	CKPT_VMA_LOCKONFAULT = 1u << 12, /* with LOCKED: MLOCK_ONFAULT / MCL_ONFAULT */
	CKPT_VMA_DROPPABLE = 1u << 13,	 /* MAP_DROPPABLE (kind ANON) */
	CKPT_VMA_FLAG_MASK = (1u << 14) - 1,
};

struct ckpt_vma {
	uint64_t start;
	uint64_t end;
	uint64_t file_offset; /* bytes */
	uint32_t prot;	      /* PROT_READ | PROT_WRITE | PROT_EXEC */
	uint32_t kind;	      /* enum ckpt_vma_kind */
	uint32_t flags;	      /* enum ckpt_vma_flags */
	uint32_t file_id;     /* for file mappings */
	uint64_t page_count;  /* at most this many pages in PAGES records */
};

struct ckpt_page_run {
	uint64_t start; /* page-aligned address */
	uint64_t pages;
};

/*
 * Followed by run_count runs, then page_count pages of data in run order.
 * The record checksum covers this struct and the runs; data_hash
 * (page_hash() of the data) covers the pages.  Runs are ascending across
 * the whole stream and each lies inside one VMA that holds pages.
 */
struct ckpt_pages {
	uint64_t run_count;
	uint64_t page_count;
	uint64_t data_hash;
};

struct ckpt_tail {
	char magic[8];	       /* CKPT_TAIL_MAGIC */
	uint64_t record_count; /* records before the tail */
	uint64_t page_count;   /* pages in all PAGES records */
	uint64_t stream_bytes; /* bytes before the tail's header */
};

enum ckpt_pty_role {
	CKPT_PTY_MASTER = 1, /* /dev/ptmx */
	CKPT_PTY_SLAVE = 2,  /* /dev/pts/N */
};

enum ckpt_pty_flags {
	CKPT_PTY_PACKET = 1u << 0,    /* TIOCPKT on (master) */
	CKPT_PTY_LOCKED = 1u << 1,    /* TIOCSPTLCK: the slave cannot be opened */
	CKPT_PTY_EXCLUSIVE = 1u << 2, /* TIOCEXCL on the slave */
};

#define CKPT_PTY_CC_COUNT 19 /* NCCS of struct termios2 */
#define CKPT_MAX_PTY_DATA (64u << 10)

/*
 * One end of a pseudo-terminal pair with both ends in the tree; follows
 * its FILE record (kind PTY).  A master names one of its slaves' FILEs and
 * each slave names its master (peer_file_id).  The terminal's settings
 * (termios, window size, flags, session) are the pair's: both ends carry
 * them and restart uses the master's.  A master's record is followed by
 * data_length bytes (a slave's has none): first input_length bytes of
 * input the slave side has not read yet (in canonical mode, whole lines
 * then maybe a partial one), then what the slave side wrote that the
 * master has not read; both already through the line discipline.
 */
struct ckpt_pty {
	uint32_t file_id;
	uint32_t role; /* enum ckpt_pty_role */
	uint32_t peer_file_id;
	uint32_t index;		 /* N of /dev/pts/N at checkpoint; a restart gets another */
	uint32_t flags;		 /* enum ckpt_pty_flags */
	int32_t session;	 /* the session it is the controlling terminal of, 0: none */
	int32_t foreground_pgrp; /* its foreground process group, 0: none */
	uint32_t data_length;	 /* at most CKPT_MAX_PTY_DATA */
	uint32_t iflag;		 /* struct termios2 */
	uint32_t oflag;
	uint32_t cflag;
	uint32_t lflag;
	uint32_t ispeed;
	uint32_t ospeed;
	uint8_t line;
	uint8_t cc[CKPT_PTY_CC_COUNT];
	uint16_t rows; /* struct winsize */
	uint16_t columns;
	uint16_t xpixels;
	uint16_t ypixels;
	uint32_t input_length; /* master: the first input_length bytes of data are the slave's input */
	uint32_t reserved2;    /* 0 */
	uint32_t reserved3;    /* 0 */
};

_Static_assert(sizeof(struct ckpt_pty) == 96, "pty layout");
_Static_assert(sizeof(struct ckpt_record_header) == 24, "header layout");
_Static_assert(sizeof(struct ckpt_head) == 160, "head layout");
_Static_assert(sizeof(struct ckpt_thread) == 536, "thread layout");
_Static_assert(sizeof(struct ckpt_process) == 80, "process layout");
_Static_assert(sizeof(struct ckpt_seccomp) == 16, "seccomp layout");
_Static_assert(sizeof(struct ckpt_vma) == 48, "vma layout");
_Static_assert(sizeof(struct ckpt_file) == 72, "file layout");
_Static_assert(sizeof(struct ckpt_tree_entry) == 64, "tree entry layout");
/*
 * An inotify instance; follows its FILE record (kind INOTIFY).  Its
 * watches follow as watch_count INOTIFY_WATCH records, by increasing wd.
 * It had no unread events (ckpt refuses one that has).
 */
struct ckpt_inotify {
	uint32_t file_id;
	uint32_t watch_count; /* at most CKPT_MAX_INOTIFY_WATCHES */
};

#define CKPT_MAX_INOTIFY_WATCHES 65536u
#define CKPT_MAX_INOTIFY_WD 65536 /* the highest wd a restart recreates */
/* IN_ALL_EVENTS | IN_EXCL_UNLINK | IN_ONESHOT: the mask bits a watch keeps. */
#define CKPT_INOTIFY_MASK_BITS 0x84000fffu

/*
 * One watch of an inotify: its watch descriptor, its mask (as fdinfo shows
 * it), the watched inode at checkpoint (number and device) and its path,
 * path_length bytes with the NUL.
 */
struct ckpt_inotify_watch {
	uint32_t file_id;
	uint32_t path_length; /* at most CKPT_PATH_MAX */
	int32_t wd;	      /* 1..CKPT_MAX_INOTIFY_WD */
	uint32_t mask;	      /* within CKPT_INOTIFY_MASK_BITS, some event bit set */
	uint64_t inode;
	uint64_t device; /* st_dev (userspace encoding) */
};

_Static_assert(sizeof(struct ckpt_eventfd) == 16, "eventfd layout");
_Static_assert(sizeof(struct ckpt_timerfd) == 48, "timerfd layout");
_Static_assert(sizeof(struct ckpt_signalfd) == 16, "signalfd layout");
_Static_assert(sizeof(struct ckpt_epoll_target) == 24, "epoll target layout");
_Static_assert(sizeof(struct ckpt_unix_socket) == 32, "unix socket layout");
_Static_assert(sizeof(struct ckpt_socket_queue) == 8, "socket queue layout");
_Static_assert(sizeof(struct ckpt_inet_socket) == 112, "inet socket layout");
_Static_assert(sizeof(struct ckpt_inet_datagram) == 32, "inet datagram layout");
_Static_assert(sizeof(struct ckpt_inotify) == 8, "inotify layout");
_Static_assert(sizeof(struct ckpt_inotify_watch) == 32, "inotify watch layout");

_Static_assert(sizeof(struct ckpt_pipe) == 16, "pipe layout");
_Static_assert(sizeof(struct ckpt_file_data) == 8, "file data layout");
/* The loader keeps every queue record (SOCKET_QUEUE, FILE_DATA) the same way. */
_Static_assert(sizeof(struct ckpt_file_data) == sizeof(struct ckpt_socket_queue), "queue layout");
_Static_assert(sizeof(struct ckpt_posix_timer) == 48, "posix timer layout");
_Static_assert(sizeof(struct ckpt_file_lock) == 32, "file lock layout");
_Static_assert(sizeof(struct ckpt_tcp_stream) == 172, "tcp stream layout");
_Static_assert(sizeof(struct ckpt_tcp_queue) == 16, "tcp queue layout");

#endif
