/// Who is told when a request of the current task went unanswered: no answer came (a reset, a
/// timeout), or a gateway said 502/504 (the server may have done the work). The request may
/// still have reached the server, or may reach it later; the state proposals use it to look at a
/// run again once such a late arrival can no longer happen (FlowRunExecutor's stray transitions).
public enum UnansweredAttempts {
    @TaskLocal public static var observer: (@Sendable () -> Void)?
}
