import Engine
import EngineTestSupport
import Foundation
import MachineAccess
import PhotonCore
import Testing

@testable import PlaneAPI

/// A driver that records every name it is asked about, for the agent's tests.
final class RecordingDriver: MachineDriver, @unchecked Sendable {
    let inner = InMemoryDriver()
    private let names = Locked<[String]>([])
    var asked: [String] { names.withLock { $0 } }

    func create(_ spec: MachineSpec) async throws -> MachineHandle {
        names.withLock { $0.append(spec.name) }
        return try await inner.create(spec)
    }

    func delete(name: String) async throws {
        names.withLock { $0.append(name) }
        try await inner.delete(name: name)
    }

    func lookup(name: String) async throws -> MachineHandle? {
        names.withLock { $0.append(name) }
        return try await inner.lookup(name: name)
    }

    func list() async throws -> [MachineHandle] { try await inner.list() }
}

/// `photon agent` with the token in hand (the plane's, or stolen): it only ever touches machines of its
/// deployment, by names that are host name labels — never a path like `..`.
@Suite("photon agent: machine names", .tags(.security))
struct AgentTests {
    @Test("names that are not this deployment's machine labels are refused before the driver sees them")
    func hostileNames() async throws {
        let identity = try ServerIdentity.generate(commonName: "photon-agent-demo")
        let directory = NSTemporaryDirectory() + "photon-agent-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try identity.write(certificate: directory + "/tls.crt", key: directory + "/tls.key")
        let token = "agent-token-" + UUID().uuidString
        let driver = RecordingDriver()
        let port = try LoopbackPort.free()
        let server = AgentServer(driver: driver, identity: identity, token: token, address: "127.0.0.1", port: port, deployment: "demo")
        let task = Task { try await server.run() }
        defer { task.cancel() }
        let deadline = Date().addingTimeInterval(20)
        while !LoopbackPort.accepts(port), Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }

        // On a thread of its own: the agent's handlers need the cooperative pool this test runs on.
        func curl(_ method: String, _ path: String, body: String? = nil) async throws -> String {
            var arguments = [
                "curl", "-s", "--path-as-is", "-o", "/dev/null", "-w", "%{http_code}", "-X", method, "--cacert", directory + "/tls.crt",
                "--resolve", "photon-agent-demo:\(port):127.0.0.1", "-H", "Authorization: Bearer \(token)",
            ]
            if let body { arguments += ["-H", "Content-Type: application/json", "-d", body] }
            return try await HostCommand.run(arguments + ["https://photon-agent-demo:\(port)\(path)"]).stdout
        }
        for path in [
            "/v1/machines/..", "/v1/machines/%2e%2e", "/v1/machines/..%2f..", "/v1/machines/demo-a%2f..%2f..", "/v1/machines/other-web-1",
            "/v1/machines/Demo-web-1", "/v1/machines/demo-web-1%00", "/v1/machines/-demo",
        ] {
            for method in ["DELETE", "GET"] {
                let status = try await curl(method, path)
                #expect(status == "400" || status == "404", "\(method) \(path) answered \(status)")
            }
            #expect(try await curl("GET", path + "/running") != "200", "GET \(path)/running")
        }
        let spec =
            #"{"name":"NAME","group":"web","kind":"swarm","role":"workers","index":1,"flavor":"small","milliCPU":1000,"memoryBytes":1,"diskBytes":1,"needs":[],"address":"ADDRESS"}"#
        for (name, address) in [("../../etc", "10.0.0.2"), ("demo-web-1", "10.0.0.2; rm -rf /"), ("other-web-1", "10.0.0.2"), ("demo-web\n1", "10.0.0.2")] {
            let body = spec.replacingOccurrences(of: "NAME", with: name.replacingOccurrences(of: "\n", with: "\\n")).replacingOccurrences(
                of: "ADDRESS", with: address)
            #expect(try await curl("POST", "/v1/machines", body: body) == "400", "create \(name) at \(address)")
        }
        #expect(driver.asked.isEmpty, "the driver was asked about \(driver.asked)")

        // A real machine name of the deployment goes through.
        let good = spec.replacingOccurrences(of: "NAME", with: "demo-web-workers-1").replacingOccurrences(of: "ADDRESS", with: "10.0.0.2")
        #expect(try await curl("POST", "/v1/machines", body: good) == "201")
        #expect(try await curl("DELETE", "/v1/machines/demo-web-workers-1") == "204")
        #expect(driver.asked == ["demo-web-workers-1", "demo-web-workers-1"])
    }
}
