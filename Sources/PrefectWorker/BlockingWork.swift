import NIOCore
import NIOPosix

/// Runs work that can block a thread for long (an fsync, a recursive delete of a run's directory,
/// a scan of every process in /proc) on NIO's blocking thread pool. Tasks run on the event loops
/// (docs/architecture.md, "Executors"), so such a call made in place would hold up every
/// connection and task of its loop meanwhile. The work runs to its end even when the task that
/// awaits it is cancelled: a ledger entry is written, and a directory removed, whatever happens to
/// the run meanwhile.
enum BlockingWork {
    static func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        let loop = MultiThreadedEventLoopGroup.singleton.any()
        do {
            return try await NIOThreadPool.singleton.runIfActive(eventLoop: loop, body).get()
        } catch {
            return body()  // the pool has stopped (never while the worker runs): the work is done here
        }
    }
}
