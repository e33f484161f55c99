import FoundationEssentials
import PrefectAPI
import PrefectWorkerCore
import Synchronization

/// Watches the answers to the worker's periodic calls (heartbeat, poll, cancellation check) for
/// the one reason to stop: the credentials refused several times in a row (`CredentialRefusals`).
/// Every other failure is retried by the calls themselves. Once it has a reason, `onFatal` is
/// called (once) so the poll loop stops claiming.
final class CredentialWatch: Sendable {
    private struct State {
        var refusals = CredentialRefusals()
        var reason: String?
    }

    private let state = Mutex(State())
    private let credentials: CredentialRefusals.Credentials
    private let onFatal: @Sendable () -> Void

    init(credentials: CredentialRefusals.Credentials, onFatal: @escaping @Sendable () -> Void) {
        self.credentials = credentials
        self.onFatal = onFatal
    }

    /// The line the worker exits with, once it must.
    var fatalReason: String? { state.withLock { $0.reason } }

    func answered() {
        state.withLock { $0.refusals.answered() }
    }

    func failed(_ error: any Error) {
        guard let error = error as? PrefectAPIError else { return }
        let first: Bool = state.withLock { state in
            guard state.reason == nil,
                let line = state.refusals.failed(status: error.status, route: error.route, credentials: credentials)
            else { return false }
            state.reason = line
            return true
        }
        if first { onFatal() }
    }
}
