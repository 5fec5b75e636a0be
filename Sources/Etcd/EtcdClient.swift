import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOSSL
import PhotonCore

/// A key and its value as etcd holds it.
public struct KeyValue: Sendable, Hashable {
    public var key: String
    public var value: [UInt8]
    public var createRevision: Int64
    public var modRevision: Int64
    public var version: Int64
    public var lease: Int64

    public var string: String { String(decoding: value, as: UTF8.self) }
}

/// A condition of a transaction: all of them hold, or the `failure` branch runs.
public enum Compare: Sendable {
    /// The key was last modified at this revision (0: the key does not exist).
    case modRevision(String, equals: Int64)
    /// The key has this many versions (0: it does not exist).
    case version(String, equals: Int64)
    /// The key holds exactly this value.
    case value(String, equals: [UInt8])

    var json: [String: Any] {
        switch self {
        case .modRevision(let key, let revision):
            ["key": Self.base64(key), "result": "EQUAL", "target": "MOD", "mod_revision": String(revision)]
        case .version(let key, let version):
            ["key": Self.base64(key), "result": "EQUAL", "target": "VERSION", "version": String(version)]
        case .value(let key, let value):
            ["key": Self.base64(key), "result": "EQUAL", "target": "VALUE", "value": Data(value).base64EncodedString()]
        }
    }

    static func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }
}

/// One write or read inside a transaction.
public enum Operation: Sendable {
    case put(String, [UInt8], lease: Int64? = nil)
    case delete(String)
    /// Every key starting with the prefix.
    case deletePrefix(String)
    case get(String)

    var json: [String: Any] {
        switch self {
        case .put(let key, let value, let lease):
            var put: [String: Any] = ["key": Compare.base64(key), "value": Data(value).base64EncodedString()]
            if let lease { put["lease"] = String(lease) }
            return ["request_put": put]
        case .delete(let key):
            return ["request_delete_range": ["key": Compare.base64(key)]]
        case .deletePrefix(let prefix):
            return ["request_delete_range": ["key": Compare.base64(prefix), "range_end": EtcdClient.rangeEnd(ofPrefix: prefix)]]
        case .get(let key):
            return ["request_range": ["key": Compare.base64(key)]]
        }
    }
}

/// What a transaction did.
public struct TransactionResult: Sendable {
    public var succeeded: Bool
    public var revision: Int64
    /// The values read by `get` operations of the branch that ran, in order.
    public var reads: [[KeyValue]]
}

/// An etcd v3 client over the JSON gateway, trying each endpoint in turn until one answers. With
/// ``EtcdTLS`` it speaks HTTPS with a client certificate (the management plane's etcd takes nothing
/// else); without, plain HTTP (tests' loopback members).
///
/// Requests that reach no member fail with an error naming the endpoints; etcd's own refusals
/// (no leader, a lease not found) carry etcd's message.
public final class EtcdClient: Sendable {
    public let endpoints: [String]
    /// Reads answered by the member asked, without a round of the cluster (possibly a little behind).
    public let serializableReads: Bool
    let http: HTTPClient
    let requestTimeout: TimeAmount
    let tls: TLSConfiguration?
    private let preferred = Locked(0)
    /// The member that answered last.
    var preferredIndex: Int { preferred.withLock { $0 } % endpoints.count }

    /// - Parameters:
    ///   - tls: the client's certificate and the authority it trusts; required by `https://` endpoints.
    ///   - serializableReads: for readers that can take a moment-old answer (status pages);
    ///     transactions and writes are always linearizable.
    public init(endpoints: [String], tls: EtcdTLS? = nil, requestTimeout: Duration = .seconds(5), serializableReads: Bool = false) throws {
        precondition(!endpoints.isEmpty, "an etcd client needs at least one endpoint")
        if endpoints.contains(where: { $0.hasPrefix("https://") }), tls == nil {
            throw PhotonError("etcd at \(endpoints.joined(separator: ", ")) needs TLS credentials (a client certificate)")
        }
        self.tls = try tls?.configuration()
        self.serializableReads = serializableReads
        self.endpoints = endpoints.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.http = Self.sharedHTTP
        self.requestTimeout = .nanoseconds(Int64(requestTimeout.components.seconds) * 1_000_000_000 + requestTimeout.components.attoseconds / 1_000_000_000)
    }

    /// One HTTP/1.1 client for every etcd client of the process: over TLS, etcd would offer HTTP/2, whose
    /// gateway connections it closes under concurrent load.
    static let sharedHTTP: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.httpVersion = .http1Only
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 16
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    // MARK: - Keys

    /// The value of `key`, if it exists.
    public func get(_ key: String) async throws -> KeyValue? {
        try await range(["key": Compare.base64(key)]).values.first
    }

    /// Every key starting with `prefix`, in key order, and the store's revision when they were read.
    public func list(prefix: String) async throws -> (values: [KeyValue], revision: Int64) {
        try await range(["key": Compare.base64(prefix), "range_end": Self.rangeEnd(ofPrefix: prefix)])
    }

    @discardableResult
    public func put(_ key: String, _ value: [UInt8], lease: Int64? = nil) async throws -> Int64 {
        var body: [String: Any] = ["key": Compare.base64(key), "value": Data(value).base64EncodedString()]
        if let lease { body["lease"] = String(lease) }
        return Self.revision(of: try await call("/v3/kv/put", body))
    }

    /// Deletes `key`; returns how many keys went (0 or 1).
    @discardableResult
    public func delete(_ key: String) async throws -> Int {
        Int(Self.int64((try await call("/v3/kv/deleterange", ["key": Compare.base64(key)]))["deleted"]))
    }

    /// Deletes every key starting with `prefix`; returns how many went.
    @discardableResult
    public func delete(prefix: String) async throws -> Int {
        let body: [String: Any] = ["key": Compare.base64(prefix), "range_end": Self.rangeEnd(ofPrefix: prefix)]
        return Int(Self.int64((try await call("/v3/kv/deleterange", body))["deleted"]))
    }

    /// Runs `success` when every comparison holds, `failure` otherwise, atomically.
    public func transaction(if compares: [Compare], then success: [Operation], else failure: [Operation] = []) async throws -> TransactionResult {
        let body: [String: Any] = ["compare": compares.map(\.json), "success": success.map(\.json), "failure": failure.map(\.json)]
        let response = try await call("/v3/kv/txn", body)
        let reads = (response["responses"] as? [[String: Any]] ?? []).compactMap { item -> [KeyValue]? in
            guard let range = item["response_range"] as? [String: Any] else { return nil }
            return Self.keyValues(range)
        }
        return TransactionResult(succeeded: response["succeeded"] as? Bool ?? false, revision: Self.revision(of: response), reads: reads)
    }

    /// The store's revision now: it moves with every write, so a result computed at one revision holds
    /// until it moves.
    public func currentRevision() async throws -> Int64 {
        try await range(["key": Compare.base64("\u{0}"), "count_only": true]).revision
    }

    // MARK: - Leases

    /// A lease that expires `ttl` seconds after its last keep-alive; keys put with it go when it does.
    public func grantLease(ttl: Int) async throws -> Int64 {
        let response = try await call("/v3/lease/grant", ["TTL": ttl])
        let id = Self.int64(response["ID"])
        guard id != 0 else { throw EtcdError("etcd granted no lease", endpoint: nil) }
        return id
    }

    /// Renews the lease; returns false when it has already expired.
    public func keepAlive(lease: Int64) async throws -> Bool {
        let response = try await call("/v3/lease/keepalive", ["ID": String(lease)])
        let result = response["result"] as? [String: Any] ?? response
        return Self.int64(result["TTL"]) > 0
    }

    /// Ends the lease now; its keys go with it. A lease that is already gone is not an error.
    public func revoke(lease: Int64) async throws {
        do {
            _ = try await call("/v3/lease/revoke", ["ID": String(lease)])
        } catch let error as EtcdError where error.isNotFound {
            return
        }
    }

    /// Whether a member answers and the cluster has a leader.
    public func isHealthy() async -> Bool {
        // Member ids are unsigned 64-bit: compared as text, not parsed.
        guard let status = try? await call("/v3/maintenance/status", [:]), let leader = status["leader"] as? String else { return false }
        return !leader.isEmpty && leader != "0"
    }

    // MARK: - Transport

    private func range(_ body: [String: Any]) async throws -> (values: [KeyValue], revision: Int64) {
        var body = body
        if serializableReads { body["serializable"] = true }
        let response = try await call("/v3/kv/range", body)
        return (Self.keyValues(response), Self.revision(of: response))
    }

    /// Posts `body` to the first member that answers, starting with the one that answered last.
    func call(_ path: String, _ body: [String: Any]) async throws -> [String: Any] {
        let payload = try JSONSerialization.data(withJSONObject: body)
        let start = preferred.withLock { $0 }
        var failures: [String] = []
        for offset in 0..<endpoints.count {
            let index = (start + offset) % endpoints.count
            let endpoint = endpoints[index]
            var request = HTTPClientRequest(url: endpoint + path)
            request.method = .POST
            if let tls { request.tlsConfiguration = tls }
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: payload))
            var answer: (HTTPClientResponse, ByteBuffer)?
            // A pooled connection the member closed as it was reused fails before the request reached it:
            // sent again on a new connection.
            for attempt in 0..<3 where answer == nil {
                do {
                    let response = try await http.execute(request, timeout: requestTimeout)
                    answer = (response, try await response.body.collect(upTo: 64 << 20))
                } catch let error as HTTPClientError where error == .remoteConnectionClosed && attempt < 2 {
                    continue
                } catch {
                    failures.append("\(endpoint): \(error)")
                    break
                }
            }
            guard let (response, bytes) = answer else { continue }
            let object = (try? JSONSerialization.jsonObject(with: Data(buffer: bytes))) as? [String: Any] ?? [:]
            if let message = (object["error"] as? String) ?? (object["message"] as? String) {
                // A member without a leader cannot serve linearizable requests: another one may.
                if message.contains("no leader") || message.contains("leader changed") || message.contains("timed out") {
                    failures.append("\(endpoint): \(message)")
                    continue
                }
                throw EtcdError("etcd refused \(path): \(message)", endpoint: endpoint, code: Self.int64(object["code"]))
            }
            guard response.status == .ok else {
                failures.append("\(endpoint): HTTP \(response.status.code)")
                continue
            }
            if offset != 0 { preferred.withLock { $0 = index } }
            return object
        }
        throw EtcdError("no etcd member answered \(path): \(failures.joined(separator: "; "))", endpoint: nil, isUnavailable: true)
    }

    static func keyValues(_ response: [String: Any]) -> [KeyValue] {
        (response["kvs"] as? [[String: Any]] ?? []).map { item in
            KeyValue(
                key: String(decoding: Data(base64Encoded: item["key"] as? String ?? "") ?? Data(), as: UTF8.self),
                value: Array(Data(base64Encoded: item["value"] as? String ?? "") ?? Data()),
                createRevision: int64(item["create_revision"]), modRevision: int64(item["mod_revision"]),
                version: int64(item["version"]), lease: int64(item["lease"]))
        }
    }

    static func revision(of response: [String: Any]) -> Int64 {
        int64((response["header"] as? [String: Any])?["revision"])
    }

    /// The gateway writes 64-bit integers as strings and leaves zero values out.
    static func int64(_ value: Any?) -> Int64 {
        switch value {
        case let text as String: Int64(text) ?? 0
        case let number as NSNumber: number.int64Value
        default: 0
        }
    }

    /// The end of the range of keys starting with `prefix` (the prefix with its last byte incremented).
    static func rangeEnd(ofPrefix prefix: String) -> String {
        var bytes = Array(prefix.utf8)
        while let last = bytes.last {
            if last < 0xff {
                bytes[bytes.count - 1] = last + 1
                return Data(bytes).base64EncodedString()
            }
            bytes.removeLast()
        }
        return Data([0]).base64EncodedString()
    }
}

/// An etcd request that failed: no member answered, or etcd refused it (with etcd's message).
public struct EtcdError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var endpoint: String?
    public var code: Int64
    /// No member could be reached: trying again later may help.
    public var isUnavailable: Bool

    public init(_ message: String, endpoint: String?, code: Int64 = 0, isUnavailable: Bool = false) {
        self.message = message
        self.endpoint = endpoint
        self.code = code
        self.isUnavailable = isUnavailable
    }

    public var description: String { message }
    /// gRPC's NOT_FOUND (a lease that expired).
    var isNotFound: Bool { code == 5 }
}
