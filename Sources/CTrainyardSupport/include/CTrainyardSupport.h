#ifndef CTRAINYARD_SUPPORT_H
#define CTRAINYARD_SUPPORT_H

#include <spawn.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>

/// 1 when this CPU executes AVX2 and FMA instructions (and the OS saves YMM state), else 0.
int ty_cpu_has_avx2_fma(void);

/// 1 when this CPU executes the AVX-512 build of the kernel (`-target-cpu skylake-avx512`):
/// AVX512F, DQ, CD, BW and VL with AVX2, FMA, BMI1 and BMI2 (CPUID leaves 1 and 7), and the OS
/// saves the opmask and all 32 zmm registers (XGETBV: XCR0 bits 1, 2, 5, 6 and 7). Else 0.
int ty_cpu_has_avx512(void);

/// Writes `message` to standard error and exits with `code` (the kernel's refusal of a forced
/// build this CPU cannot run: a clear error instead of an illegal instruction).
void ty_exit_with_message(const char *message, int code) __attribute__((noreturn));

/// Asks the kernel to send `signal` to this process when its parent dies (Linux); returns 0 on
/// success, -1 where unsupported.
int ty_set_parent_death_signal(int signal);

/// accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK) where available, else accept + fcntl.
int ty_accept_cloexec_nonblock(int fd);

/// posix_spawn_file_actions_addchdir_np where the C library has it; returns its result, or
/// -1 where it is missing.
int ty_spawn_file_actions_addchdir(posix_spawn_file_actions_t *actions, const char *path);

/// Sets this thread's timer slack (how late the kernel may wake a sleeper) in nanoseconds (Linux);
/// returns 0, or -1 where unsupported. Children inherit it.
int ty_set_timer_slack(unsigned long nanoseconds);

/// posix_spawn_file_actions_addclosefrom_np: the child closes every descriptor from `from` up
/// (glibc ≥ 2.34); returns its result, or -1 where it is missing.
int ty_spawn_file_actions_addclosefrom(posix_spawn_file_actions_t *actions, int from);

/// Asks the C library to serve large allocations from its heap (up to 32 MiB, not a fresh mmap
/// each) and to keep freed memory (up to 256 MiB) instead of returning it at once: a role's
/// per-message arrays then reuse memory that is already mapped, instead of page-faulting fresh
/// pages on every receive. Returns 0 when both were set, -1 otherwise (other C libraries).
int ty_keep_freed_memory(void);

/// Fills `storage` with the Linux abstract Unix-domain socket address `name` (no file: sun_path
/// starts with a zero byte, then the name's bytes, not zero-terminated) and returns its length, or
/// -1 when the name is empty or longer than 107 bytes, or abstract addresses are not available.
int ty_abstract_unix_address(struct sockaddr_storage *storage, const char *name);

/// A shared-memory region for one side of a same-host connection: an anonymous memory file
/// (memfd, close-on-exec) of `size` bytes, sealed so that nobody can shrink or grow it (a peer
/// mapping it can never fault on a page the file lost). Returns the descriptor, or -1 (errno set).
int ty_region_create(size_t size);

/// Whether `fd` is a region `ty_region_create` would make: a memory file sealed against shrinking
/// and growing, whose size is written to `size`. 1 when it is, 0 when not, -1 on error.
int ty_region_check(int fd, size_t *size);

/// Sends `count` bytes of `bytes` with descriptor `fd` attached (SCM_RIGHTS) on a Unix-domain
/// socket; returns the bytes sent, or -1 (errno set; EAGAIN when the socket is full).
ssize_t ty_send_with_descriptor(int socket, const void *bytes, size_t count, int fd);

/// recv on a Unix-domain socket that also takes the descriptors sent with the bytes (close-on-
/// exec): up to `capacity` of them into `fds`, their number into `received` (more are closed).
/// Returns recv's result (-1 with errno set).
ssize_t ty_recv_with_descriptors(int socket, void *buffer, size_t count, int *fds, int capacity, int *received);

/// The 64-bit word at `address`, loaded with acquire ordering / stored with release ordering
/// (a generation counter in a region another process maps).
uint64_t ty_load_acquire_u64(const volatile uint64_t *address);
void ty_store_release_u64(volatile uint64_t *address, uint64_t value);

/// Asks the CPU to start loading the cache lines of `bytes` bytes at `address` (a hint: no effect
/// on values, never faults). For a gather of rows from memory too large for the caches, issued a
/// few rows ahead, so that each row's loads wait less on memory.
static inline void ty_prefetch(const void *address, size_t bytes) {
    const char *p = (const char *)address;
    for (size_t offset = 0; offset < bytes; offset += 64) __builtin_prefetch(p + offset, 0, 3);
}

#endif
