import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import PhotonCore

/// What one client may take of `photon serve` and `photon agent`: connections, time, bytes and child
/// processes, so that no client — holder of the token or not — can exhaust a server.
public struct ServerLimits: Sendable {
    /// Request bodies above this are refused (413): below etcd's 1.5 MiB request limit, with room for
    /// the encoding a workspace gets when it is stored.
    public static let maxRequestBody = 1 << 20
    /// A connection that sends nothing (not even a TLS handshake), or stalls in the middle of a request,
    /// for this long is closed.
    public var idleTimeout: TimeAmount = .seconds(30)
    /// Connections served at once; more wait in the listen backlog.
    public var maxConnections = 512
    /// `POST /v1/deployment/plan` children at once (each is a photon process planning the deployment).
    public var concurrentPlans = 2
    /// A plan child still running after this is ended, and the request answered 504.
    public var planDeadline: Duration = .seconds(120)

    public init() {}

    public static let standard = ServerLimits()

    /// HTTPS over HTTP/1.1 with the idle timeout.
    func server(tls: TLSConfiguration) throws -> HTTPServerBuilder {
        try .tls(.http1(configuration: .init(idleTimeout: idleTimeout)), tlsConfiguration: tls)
    }

    func configuration(address: String, port: Int, serverName: String) -> ApplicationConfiguration {
        ApplicationConfiguration(
            address: .hostname(address, port: port), serverName: serverName,
            availableConnectionsDelegate: .maximum(maxConnections, logger: Logger(label: "photon.connections")))
    }
}

/// The request context of photon's servers: the default one, with the body limit above.
public struct PlaneRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage

    public init(source: Source) {
        coreContext = .init(source: source)
    }

    public var maxUploadSize: Int { ServerLimits.maxRequestBody }
}

/// A count of places, taken without waiting.
final class Slots: Sendable {
    private let free: Locked<Int>

    init(_ count: Int) { free = Locked(count) }

    /// Takes a place; false when none is free.
    func take() -> Bool {
        free.withLock { free in
            guard free > 0 else { return false }
            free -= 1
            return true
        }
    }

    func give() { free.withLock { $0 += 1 } }
}
