/* How a new process gets into a cgroup v2 cgroup, the two ways nsbox knows:
 * the parent writes the child's PID to cgroup.procs ("write", what v1
 * allows), or the child is born in it with clone3(CLONE_INTO_CGROUP)
 * ("into", what nsbox does on v2). Each run makes a cgroup under ROOT,
 * starts a child that exits at once, gets it in, waits and removes the
 * cgroup. scripts/bench.sh times both after an idle second, where the write
 * waits for an RCU grace period (cgroup_threadgroup_rwsem).
 *
 * Usage: cgroup_entry write|into ROOT   (ROOT: a cgroup2 mount point) */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int write_pid(const char *dir, long pid) {
    char path[4200], text[32];
    snprintf(path, sizeof path, "%s/cgroup.procs", dir);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int n = snprintf(text, sizeof text, "%ld", pid);
    int ok = write(fd, text, n) == n;
    close(fd);
    return ok ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc != 3 || (strcmp(argv[1], "write") && strcmp(argv[1], "into"))) {
        fprintf(stderr, "usage: cgroup_entry write|into ROOT\n");
        return 2;
    }
    int into = strcmp(argv[1], "into") == 0;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/nsbox-bench-%d", argv[2], getpid());
    if (mkdir(dir, 0755)) { perror(dir); return 1; }
    int status = 1;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct clone_args args = {0};
    args.exit_signal = SIGCHLD;
    if (into) {
        args.flags = CLONE_INTO_CGROUP;
        args.cgroup = fd;
    }
    long pid = fd < 0 ? -1 : syscall(SYS_clone3, &args, sizeof args);
    if (pid == 0) _exit(0);
    if (pid < 0) {
        perror("clone3");
    } else {
        if (!into && write_pid(dir, pid)) perror("cgroup.procs");
        else status = 0;
        waitpid(pid, NULL, 0);
    }
    if (fd >= 0) close(fd);
    /* The exited child leaves the cgroup a moment later: retry while busy. */
    for (int i = 0; rmdir(dir) && i < 10000; i++) usleep(100);
    return status;
}
