#ifndef PW_CONCURRENCY_HOOK_H
#define PW_CONCURRENCY_HOOK_H

/// The address of the Swift runtime's `swift_task_enqueueGlobal_hook`: where the runtime looks
/// first when a task is enqueued on the global executor. The static binary keeps the runtime's
/// symbols out of its dynamic table (--exclude-libs), so `dlsym` cannot find it; a static
/// reference can.
void **pw_swift_task_enqueue_global_hook(void);

#endif
