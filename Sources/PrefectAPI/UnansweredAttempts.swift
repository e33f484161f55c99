/// Called when an attempt of a request went unanswered: no answer came (a reset, a timeout), or a
/// gateway said 502/504 (the server may have done the work). The request may still have reached
/// the server, or may reach it later; the state proposals use it to look at a run again once such
/// a late arrival can no longer happen (FlowRunExecutor's stray transitions). A parameter rather
/// than a task-local: `TaskLocal.withValue` around these calls crashed the release build
/// (swift_task_localValuePush, Swift 6.3.1, static stdlib).
public typealias UnansweredAttempt = @Sendable () async -> Void
