import EngineTestSupport
import Foundation
import PhotonCore
import Testing

@testable import PlaneAPI

/// No client, with the token or without, can take a server's connections, time, memory or processes.
@Suite("photon serve: limits", .tags(.security))
struct ServerLimitsTests {
    static let slowPlan = """
        if grep -q '"preview":true' "$2"; then sleep 4; echo "Plan: nothing"; exit 0; fi
        exit 0
        """

    @Test("a body above 1 MiB is refused with 413, before it reaches etcd")
    func bodyLimit() async throws {
        try await withPlane { plane in
            let url = try await plane.startServer(node: "a")
            let big = Data(
                ("{\"workspace\": {\"blueprintFile\": \"a.yaml\", \"blueprint\": \"" + String(repeating: "x", count: 1_200_000) + "\", \"kinds\": {}}}").utf8)
            let (status, body) = try await plane.client(url).send(.POST, "/v1/deployment/apply", body: big)
            #expect(status == 413, "\(status) \(String(decoding: body.prefix(300), as: UTF8.self))")
            let (operations, _) = try await plane.client(url).send(.GET, "/v1/operations")
            #expect(operations == 200)
        }
    }

    @Test("a connection that sends nothing, or stops in the middle of a request, is closed after the idle timeout")
    func idleConnections() async throws {
        var limits = ServerLimits()
        limits.idleTimeout = .seconds(1)
        try await withPlane { plane in
            let url = try await plane.startServer(node: "a", limits: limits)
            let port = url.split(separator: ":").last!
            // Python measures how long the server keeps each connection: silent, then half a request over TLS.
            let script = """
                import socket, ssl, sys, time
                port = int(sys.argv[1]); results = []
                s = socket.create_connection(("127.0.0.1", port)); s.settimeout(10); t = time.time()
                results.append(("silent", s.recv(1) == b"", time.time() - t))
                context = ssl.create_default_context(cafile=sys.argv[2]); context.check_hostname = False
                raw = socket.create_connection(("127.0.0.1", port)); raw.settimeout(10)
                tls = context.wrap_socket(raw, server_hostname="photon")
                tls.sendall(b"GET /v1/health HTTP/1.1\\r\\nHost: photon\\r\\n"); t = time.time()
                try:
                    closed = tls.recv(1) == b""
                except (ssl.SSLError, ConnectionError):
                    closed = True
                results.append(("half a request", closed, time.time() - t))
                for name, closed, seconds in results: print(name, closed, round(seconds, 1))
                """
            let result = try await HostCommand.run(["/usr/bin/python3", "-c", script, String(port), plane.directory + "/tls/server.crt"])
            #expect(result.succeeded, "\(result.diagnostic)")
            for line in result.stdout.split(separator: "\n") {
                let fields = line.split(separator: " ")
                #expect(fields.dropLast().last == "True", "\(line): not closed")
                #expect((Double(fields.last ?? "") ?? 99) < 5, "\(line): closed too late")
            }
            #expect(result.stdout.split(separator: "\n").count == 2, "\(result.stdout)")
        }
    }

    @Test("at most two plans at once (429 beyond), each ended at its deadline (504)")
    func planChildren() async throws {
        var limits = ServerLimits()
        limits.planDeadline = .seconds(2)
        try await withPlane(childScript: Self.slowPlan) { plane in
            let url = try await plane.startServer(node: "a", limits: limits)
            let request = try JSONEncoder().encode(PlanRequest(workspace: sampleBundle))
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<3 {
                    group.addTask { try await plane.client(url).send(.POST, "/v1/deployment/plan", body: request, timeout: .seconds(30)).status }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.sorted() == [429, 504, 504], "\(statuses)")
            #expect(HostProcesses.mentioning(plane.directory + "/fake-photon") == [], "no plan child is left")
        }
    }
}
