#define _GNU_SOURCE
#include "CTrainyardSupport.h"
#include <fcntl.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <errno.h>
#include <stddef.h>
#if defined(__linux__)
#include <sys/prctl.h>
#include <signal.h>
#endif

int ty_cpu_has_avx2_fma(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>

/// XCR0, the state the OS saves on a context switch (valid only when CPUID says OSXSAVE).
static unsigned long long ty_xgetbv0(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}
#endif

int ty_cpu_has_avx512(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    const unsigned int fma = 1u << 12, osxsave = 1u << 27, avx = 1u << 28;
    if ((ecx & (fma | osxsave | avx)) != (fma | osxsave | avx)) return 0;
    // XCR0: SSE (1), AVX upper halves (2), opmask (5), ZMM0-15 upper halves (6), ZMM16-31 (7).
    const unsigned long long zmmState = (1ull << 1) | (1ull << 2) | (1ull << 5) | (1ull << 6) | (1ull << 7);
    if ((ty_xgetbv0() & zmmState) != zmmState) return 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    // Leaf 7 EBX: AVX2 (5), BMI1 (3), BMI2 (8), AVX512F (16), DQ (17), CD (28), BW (30), VL (31):
    // what `-target-cpu skylake-avx512` lets the compiler use in vector code.
    const unsigned int need = (1u << 3) | (1u << 5) | (1u << 8) | (1u << 16) | (1u << 17) | (1u << 28) | (1u << 30) | (1u << 31);
    return (ebx & need) == need;
#else
    return 0;
#endif
}

void ty_exit_with_message(const char *message, int code) {
#if defined(__unix__)
    size_t length = strlen(message);
    while (length > 0) {
        ssize_t n = write(2, message, length);
        if (n <= 0) break;
        message += n;
        length -= (size_t)n;
    }
#endif
    exit(code);
}

int ty_set_parent_death_signal(int signal) {
#if defined(__linux__)
    return prctl(PR_SET_PDEATHSIG, signal, 0, 0, 0);
#else
    (void)signal;
    return -1;
#endif
}

int ty_accept_cloexec_nonblock(int fd) {
#if defined(__linux__)
    return accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
#else
    int c = accept(fd, NULL, NULL);
    if (c >= 0) {
        fcntl(c, F_SETFD, FD_CLOEXEC);
        fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK);
    }
    return c;
#endif
}

int ty_spawn_file_actions_addchdir(posix_spawn_file_actions_t *actions, const char *path) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 29))
    return posix_spawn_file_actions_addchdir_np(actions, path);
#else
    (void)actions; (void)path;
    return -1;
#endif
}

int ty_spawn_file_actions_addclosefrom(posix_spawn_file_actions_t *actions, int from) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
#else
    (void)actions; (void)from;
    return -1;
#endif
}

int ty_set_timer_slack(unsigned long nanoseconds) {
#if defined(__linux__)
    return prctl(PR_SET_TIMERSLACK, nanoseconds, 0, 0, 0);
#else
    (void)nanoseconds;
    return -1;
#endif
}

int ty_abstract_unix_address(struct sockaddr_storage *storage, const char *name) {
#if defined(__linux__)
    size_t n = strlen(name);
    struct sockaddr_un *un = (struct sockaddr_un *)storage;
    if (n == 0 || n + 1 > sizeof(un->sun_path)) return -1;
    memset(storage, 0, sizeof(*storage));
    un->sun_family = AF_UNIX;
    un->sun_path[0] = 0;
    memcpy(un->sun_path + 1, name, n);
    return (int)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
#else
    (void)storage; (void)name;
    return -1;
#endif
}

int ty_keep_freed_memory(void) {
#if defined(__GLIBC__)
    int threshold = mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    int trim = mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
    return threshold == 1 && trim == 1 ? 0 : -1;
#else
    return -1;
#endif
}

int ty_region_create(size_t size) {
#if defined(__linux__) && defined(MFD_ALLOW_SEALING)
    int fd = memfd_create("trainyard-region", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return -1;
    if (ftruncate(fd, (off_t)size) != 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
#else
    (void)size;
    errno = ENOSYS;
    return -1;
#endif
}

int ty_region_check(int fd, size_t *size) {
#if defined(__linux__) && defined(F_GET_SEALS)
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0) return errno == EINVAL ? 0 : -1;
    if ((seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW)) return 0;
    struct stat st;
    if (fstat(fd, &st) != 0) return -1;
    if (!S_ISREG(st.st_mode) || st.st_size < 0) return 0;
    *size = (size_t)st.st_size;
    return 1;
#else
    (void)fd; (void)size;
    errno = ENOSYS;
    return -1;
#endif
}

ssize_t ty_send_with_descriptor(int socket, const void *bytes, size_t count, int fd) {
    struct iovec iov = { .iov_base = (void *)bytes, .iov_len = count };
    union { char buffer[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
    memset(&control, 0, sizeof(control));
    struct msghdr message = { 0 };
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control.buffer;
    message.msg_controllen = sizeof(control.buffer);
    struct cmsghdr *c = CMSG_FIRSTHDR(&message);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    return sendmsg(socket, &message, MSG_NOSIGNAL);
}

ssize_t ty_recv_with_descriptors(int socket, void *buffer, size_t count, int *fds, int capacity, int *received) {
    struct iovec iov = { .iov_base = buffer, .iov_len = count };
    union { char buffer[CMSG_SPACE(4 * sizeof(int))]; struct cmsghdr align; } control;
    struct msghdr message = { 0 };
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control.buffer;
    message.msg_controllen = sizeof(control.buffer);
    *received = 0;
#if defined(MSG_CMSG_CLOEXEC)
    ssize_t n = recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
#else
    ssize_t n = recvmsg(socket, &message, 0);
#endif
    if (n < 0) return n;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&message); c != NULL; c = CMSG_NXTHDR(&message, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (*received < capacity) fds[(*received)++] = fd; else close(fd);
        }
    }
    return n;
}

uint64_t ty_load_acquire_u64(const volatile uint64_t *address) {
    return __atomic_load_n(address, __ATOMIC_ACQUIRE);
}

void ty_store_release_u64(volatile uint64_t *address, uint64_t value) {
    __atomic_store_n(address, value, __ATOMIC_RELEASE);
}
