import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import PhotonCore

extension EtcdClient {
    /// The keys put under `prefix` from `revision` on, as etcd commits them (deletions are left out),
    /// until the caller stops iterating or the member goes away (the stream then ends with an error).
    /// One member is asked (the one that answered last); a caller that loses the stream watches again
    /// from the revision after the last key it got.
    public func watch(prefix: String, fromRevision revision: Int64) -> AsyncThrowingStream<[KeyValue], any Error> {
        let body: [String: Any] = [
            "create_request": [
                "key": Compare.base64(prefix), "range_end": Self.rangeEnd(ofPrefix: prefix),
                "start_revision": String(revision),
            ]
        ]
        let payload = (try? JSONSerialization.data(withJSONObject: body)) ?? Data()
        let endpoint = endpoints[preferredIndex]
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    var request = HTTPClientRequest(url: endpoint + "/v3/watch")
                    request.method = .POST
                    if let tls { request.tlsConfiguration = tls }
                    request.headers.add(name: "Content-Type", value: "application/json")
                    request.body = .bytes(ByteBuffer(data: payload))
                    let response = try await http.execute(request, timeout: .hours(24 * 365))
                    guard response.status == .ok else { throw EtcdError("etcd refused the watch: HTTP \(response.status.code)", endpoint: endpoint) }
                    // The gateway writes one JSON message per line.
                    var pending: [UInt8] = []
                    for try await buffer in response.body {
                        pending.append(contentsOf: buffer.readableBytesView)
                        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                            let line = Data(pending[..<newline])
                            pending.removeSubrange(...newline)
                            guard let message = try JSONSerialization.jsonObject(with: line) as? [String: Any] else { continue }
                            let result = message["result"] as? [String: Any] ?? [:]
                            if let error = message["error"] as? [String: Any] {
                                throw EtcdError("etcd ended the watch: \(error["message"] as? String ?? "\(error)")", endpoint: endpoint)
                            }
                            if result["canceled"] as? Bool == true {
                                throw EtcdError("etcd cancelled the watch: \(result["cancel_reason"] as? String ?? "compacted")", endpoint: endpoint)
                            }
                            let puts = (result["events"] as? [[String: Any]] ?? []).compactMap { event -> KeyValue? in
                                guard (event["type"] as? String ?? "PUT") == "PUT", let kv = event["kv"] as? [String: Any] else { return nil }
                                return Self.keyValues(["kvs": [kv]]).first
                            }
                            if !puts.isEmpty { continuation.yield(puts) }
                        }
                    }
                    continuation.finish(throwing: EtcdError("the watch on \(endpoint) ended", endpoint: endpoint, isUnavailable: true))
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
