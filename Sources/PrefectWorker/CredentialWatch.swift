import Foundation
import PrefectAPI
import PrefectWorkerCore

/// Watches the answers to the worker's periodic calls (heartbeat, poll, cancellation check) for
/// the one reason to stop: the credentials refused several times in a row (`CredentialRefusals`).
/// Every other failure is retried by the calls themselves. Once it has a reason, `onFatal` is
/// called (once) so the poll loop stops claiming.
final class CredentialWatch: @unchecked Sendable {
    private let lock = NSLock()
    private var refusals = CredentialRefusals()
    private var reason: String?
    private let credentials: CredentialRefusals.Credentials
    private let onFatal: @Sendable () -> Void

    init(credentials: CredentialRefusals.Credentials, onFatal: @escaping @Sendable () -> Void) {
        self.credentials = credentials
        self.onFatal = onFatal
    }

    /// The line the worker exits with, once it must.
    var fatalReason: String? { lock.withLock { reason } }

    func answered() {
        lock.withLock { refusals.answered() }
    }

    func failed(_ error: any Error) {
        guard let error = error as? PrefectAPIError else { return }
        let first: Bool = lock.withLock {
            guard reason == nil,
                let line = refusals.failed(status: error.status, route: error.route, credentials: credentials)
            else { return false }
            reason = line
            return true
        }
        if first { onFatal() }
    }
}
