#ifndef PW_SPAWN_H
#define PW_SPAWN_H

#include <sys/types.h>

/// Starts `path` with `argv`/`envp` in a new session (so its own process group, PGID = PID), in
/// `cwd` (NULL: inherit), with stdin from /dev/null, stdout/stderr on the given descriptors (-1:
/// /dev/null), every signal at its default disposition and an empty signal mask (the worker
/// ignores SIGTERM/SIGINT itself; a child must not inherit that).
/// Returns 0 and sets *pid, or an errno value.
int pw_spawn(const char *path, char *const argv[], char *const envp[], const char *cwd,
             int stdout_fd, int stderr_fd, pid_t *pid);

/// Makes this process a child subreaper (prctl PR_SET_CHILD_SUBREAPER). Returns 0 or errno.
int pw_set_child_subreaper(void);

/// Names the calling thread (PR_SET_NAME; the kernel keeps 15 bytes), as /proc and `top -H` show it. 0 or -1.
int pw_set_thread_name(const char *name);

/// pipe2(O_CLOEXEC): both ends close on exec, so one run never inherits another's pipe. 0 or errno.
int pw_pipe_cloexec(int fds[2]);

/// pidfd_open(2) (Linux 5.3+): a descriptor that becomes readable when the process ends, for a
/// process that is not our child. Returns the descriptor, or -errno (-ENOSYS without kernel support).
int pw_pidfd_open(pid_t pid);

#endif
