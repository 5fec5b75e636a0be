import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOSSL
import PhotonCore

/// An HTTPS client of the plane (or of the installer's agent) that trusts one pinned certificate and
/// sends the bearer token with every request. Requests go through one HTTP client for the whole
/// process (its connection pool, never shut down), each with the pinned TLS configuration.
public final class PinnedClient: Sendable {
    public let baseURL: String
    public let certificate: PinnedCertificate
    let token: String
    let tls: TLSConfiguration

    /// A connection that cannot be made (refused, or a certificate other than the pinned one) fails
    /// the request at once instead of being retried until the deadline: callers try the next server.
    static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        configuration.timeout.connect = .seconds(5)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    public init(baseURL: String, certificate: PinnedCertificate, token: String) throws {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.certificate = certificate
        self.token = token
        tls = try certificate.clientTLS()
    }

    /// A JSON request; returns the status and the body (at most 64 MiB).
    public func send(
        _ method: NIOHTTP1.HTTPMethod, _ path: String, body: Data? = nil, timeout: Duration = .seconds(30)
    ) async throws -> (status: Int, body: Data) {
        let response = try await execute(method, path, body: body, timeout: timeout)
        do {
            let bytes = try await response.body.collect(upTo: 64 << 20)
            return (Int(response.status.code), Data(buffer: bytes))
        } catch {
            throw unreachable(error)
        }
    }

    /// Sends the request and yields the response body line by line (NDJSON event streams).
    public func lines(_ path: String, status: inout Int) async throws -> AsyncThrowingStream<String, any Error> {
        let response = try await execute(.GET, path, body: nil, timeout: .seconds(24 * 3600))
        status = Int(response.status.code)
        return AsyncThrowingStream { continuation in
            let task = Task {
                var pending: [UInt8] = []
                do {
                    for try await buffer in response.body {
                        pending.append(contentsOf: buffer.readableBytesView)
                        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                            continuation.yield(String(decoding: pending[..<newline], as: UTF8.self))
                            pending.removeSubrange(...newline)
                        }
                    }
                    if !pending.isEmpty { continuation.yield(String(decoding: pending, as: UTF8.self)) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: self.unreachable(error))
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    func execute(_ method: NIOHTTP1.HTTPMethod, _ path: String, body: Data?, timeout: Duration) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.tlsConfiguration = tls
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept", value: "application/json")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: body))
        }
        do {
            return try await Self.http.execute(request, timeout: .seconds(timeout.components.seconds))
        } catch {
            throw unreachable(error)
        }
    }

    /// Says which of the two it is: a certificate other than the pinned one, or no answer.
    func unreachable(_ error: any Error) -> PhotonError {
        let text = String(describing: error)
        if error is NIOSSLError || text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("handshake") || text.contains("SSL") {
            return PhotonError(
                "the server at \(baseURL) did not present the pinned certificate \(certificate.fingerprint); refusing to talk to it (\(text))",
                help:
                    "if the plane was rebuilt, hand it over again with 'photon apply --local -f BLUEPRINT'; otherwise something is intercepting the connection")
        }
        return PhotonError("cannot reach \(baseURL): \(text)", help: "check that the management plane runs ('photon status --local -f BLUEPRINT')")
    }
}

/// The body of every error the API returns (4xx and 5xx).
public struct APIErrorBody: Codable, Sendable {
    public var error: String
    public var help: String?
    /// For 409: the operation that holds the deployment.
    public var operation: String?
    public var run: Int64?

    public init(error: String, help: String? = nil, operation: String? = nil, run: Int64? = nil) {
        self.error = error
        self.help = help
        self.operation = operation
        self.run = run
    }
}

/// HTTP methods, for callers that do not import NIO.
public typealias HTTPMethodName = NIOHTTP1.HTTPMethod
