/* The kernel floor written as the issue describes it: a minimal C program,
 * built with gcc's defaults (dynamically linked), that clones with the five
 * classic namespaces (pid, mnt, uts, ipc, net), optionally mounts a fresh
 * /proc, execs /bin/true and waits. scripts/bench.sh runs it beside the
 * static Rust floor (crates/runtime/examples/clone_floor.rs), which is the
 * stricter of the two: it pays no dynamic loading.
 *
 * Usage: clone_floor_c [--proc] */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int fresh_proc = argc > 1 && strcmp(argv[1], "--proc") == 0;
    long flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | SIGCHLD;
    /* With no new stack, clone behaves as fork. */
    pid_t pid = syscall(SYS_clone, flags, NULL, NULL, NULL, 0);
    if (pid < 0) {
        perror("clone");
        return 125;
    }
    if (pid == 0) {
        if (fresh_proc) {
            if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) || mount("proc", "/proc", "proc", 0, NULL)) {
                perror("mount");
                _exit(125);
            }
        }
        char *args[] = {"/bin/true", NULL};
        execv(args[0], args);
        perror("exec");
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0) {
        perror("waitpid");
        return 125;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
