import EngineTestSupport
import Foundation
import PhotonCore
import Testing

@testable import PlaneAPI

/// A holder of the API token may ask the plane for what the API offers, and nothing more: names stay
/// names in the operation's arguments, never options.
@Suite("photon serve: a holder of the token", .tags(.security))
struct TokenHolderTests {
    @Test("cluster and role names that are not host name labels are refused with 400 and never reach an operation")
    func hostileNames() async throws {
        try await withPlane { plane in
            let url = try await plane.startServer(node: "a")
            let client = try plane.client(url)
            let hostile = ["--file=/etc/photon/tls/server.key", "-f", "web --templates /tmp", "Web", "web\nx", "..", "web;id", "a/b"]
            for name in hostile {
                let encoded = name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? name
                var (status, body) = try await client.send(
                    .POST, "/v1/clusters/\(encoded)/scale",
                    body: try JSONEncoder().encode(ScaleRequest(counts: ["workers": 2], force: nil)))
                #expect(status == 400 || status == 404, "scale of \(name.debugDescription): \(status) \(String(decoding: body, as: UTF8.self))")
                (status, body) = try await client.send(
                    .POST, "/v1/clusters/web/scale", body: try JSONEncoder().encode(ScaleRequest(counts: [name: 2], force: nil)))
                #expect(status == 400, "role \(name.debugDescription): \(status)")
                (status, body) = try await client.send(
                    .POST, "/v1/deployment/plan",
                    body: try JSONEncoder().encode(
                        PlanRequest(workspace: sampleBundle, scale: ScaleRequest(counts: ["workers": 1], force: nil), cluster: name)))
                #expect(status == 400, "plan of cluster \(name.debugDescription): \(status)")
            }
            // Only the one well-formed scale of this test was ever started, its request in a job file, never in argv.
            try await OperationBook(etcd: try plane.etcdClient, prefix: "/photon/demo/", authenticator: try plane.authenticator).setWorkspace(sampleBundle)
            let (status, _) = try await client.send(
                .POST, "/v1/clusters/web/scale", body: try JSONEncoder().encode(ScaleRequest(counts: ["workers": 2], force: true)))
            #expect(status == 202)
            let deadline = Date().addingTimeInterval(15)
            while !FileManager.default.fileExists(atPath: plane.directory + "/arguments"), Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
            let arguments = try String(contentsOfFile: plane.directory + "/arguments", encoding: .utf8)
            #expect(arguments.hasPrefix("run-operation ") && arguments.hasSuffix(".job.json\n"), "\(arguments)")
            #expect(try plane.jobs.map(\.request) == [.scale("web", counts: ["workers": 2], force: true)])
            let jobs = try String(contentsOfFile: plane.directory + "/jobs", encoding: .utf8)
            for name in hostile where name.count > 3 {
                #expect(!arguments.contains(name) && !jobs.contains(name), "\(name.debugDescription) reached a child")
            }
        }
    }
}
