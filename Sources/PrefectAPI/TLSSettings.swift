import NIOSSL

extension PrefectAPIConfiguration.TLS {
    /// The client TLS configuration for REST and the event stream: the CA file replaces the
    /// system's trust store (as Prefect's own client does with `PREFECT_API_SSL_CERT_FILE`).
    public var clientConfiguration: TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let caFile { configuration.trustRoots = .file(caFile) }
        if insecureSkipVerify { configuration.certificateVerification = .none }
        return configuration
    }

    /// What went wrong when `error` is a failed TLS handshake (certificate not trusted, wrong
    /// host name, not TLS at all); nil for every other error.
    static func handshakeFailure(_ error: any Error) -> String? {
        switch error {
        case NIOSSLError.handshakeFailed(let reason): return "\(reason)"
        case let error as NIOSSLExtraError where error == .failedToValidateHostname: return "\(error)"
        default: return nil
        }
    }
}
