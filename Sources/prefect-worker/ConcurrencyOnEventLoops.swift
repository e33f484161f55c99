import CSwiftConcurrencyHook
import NIOCore
import NIOPosix

/// Runs Swift concurrency's global executor on NIO's event loops, as NIO's
/// `NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()` does;
/// that function finds the runtime's hook with `dlsym`, which a static binary cannot answer
/// (the runtime's symbols are not exported), so the hook is reached through a C reference here
/// and the rest is done the same way (docs/architecture.md, "Executors").
///
/// With it an HTTP request's task and its channel share a thread: no hop between libdispatch's
/// pool and the loops per request, and no libdispatch worker threads to start, retire and watch
/// (its pool monitor woke once a second). Tasks then must not block: what can is done through
/// `BlockingWork`. Returns false (and changes nothing) when another hook is installed already.
enum ConcurrencyOnEventLoops {
    typealias Hook = @convention(thin) (UnownedJob, @convention(thin) (UnownedJob) -> Void) -> Void

    /// Call once, first thing in `main`, before any task is started.
    static func install() -> Bool {
        guard let slot = pw_swift_task_enqueue_global_hook(), slot.pointee == nil else { return false }
        return withUnsafeTemporaryAllocation(of: Hook.self, capacity: 1) { hook in
            // `any()` stays on the current loop when called from one of the group's loops.
            hook.baseAddress!.initialize(to: { job, _ in MultiThreadedEventLoopGroup.singleton.any().executor.enqueue(job) })
            hook.baseAddress!.withMemoryRebound(to: UnsafeMutableRawPointer?.self, capacity: 1) { slot.pointee = $0.pointee }
            return true
        }
    }
}
