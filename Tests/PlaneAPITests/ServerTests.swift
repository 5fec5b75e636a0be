import Blueprints
import Engine
import EngineTestSupport
import Etcd
import Foundation
import MachineAccess
import PhotonCore
import Planning
import StateStore
import Testing

@testable import PlaneAPI

@Suite("photon serve: TLS, token, operations, leadership")
struct ServerTests {
    @Test("every request but the health check needs the token (401 otherwise); a client pinning another certificate refuses the server")
    func tokenAndPinning() async throws {
        try await withPlane { plane in
            let url = try await plane.startServer(node: "a")
            var (status, body) = try await plane.client(url).send(.GET, "/v1/health")
            #expect(status == 200, "\(String(decoding: body, as: UTF8.self))")
            let health = try decode(HealthBody.self, body)
            #expect(health.status == "ok" && health.etcd == true && health.node == "a" && health.authenticated)
            // Without the token the health check says only whether the server is healthy.
            (status, body) = try await plane.client(url, token: "wrong-" + plane.token).send(.GET, "/v1/health")
            let anonymous = try decode(HealthBody.self, body)
            #expect(status == 200 && anonymous.status == "ok" && !anonymous.authenticated && anonymous.node == nil && anonymous.leader == nil)

            for path in ["/v1/deployment", "/v1/clusters", "/v1/runs", "/v1/operations"] {
                (status, body) = try await plane.client(url, token: "wrong-" + plane.token).send(.GET, path)
                #expect(status == 401, "\(path) with a wrong token")
                #expect(try decode(APIErrorBody.self, body).error == "missing or wrong bearer token")
            }
            // No token at all (curl, since the client always sends one).
            let curl = try await HostCommand.run([
                "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", plane.directory + "/tls/server.crt",
                "--resolve", "photon-test:\(url.split(separator: ":").last!):127.0.0.1",
                "https://photon-test:\(url.split(separator: ":").last!)/v1/deployment",
            ])
            #expect(curl.stdout == "401")

            let stranger = try ServerIdentity.generate(commonName: "photon-test")
            let refusedAt = Date()
            let error = await #expect(throws: PhotonError.self) {
                _ = try await plane.client(url, certificate: stranger.certificate).send(.GET, "/v1/health")
            }
            #expect(
                error?.message.contains("did not present the pinned certificate \(stranger.certificate.fingerprint)") == true, "\(String(describing: error))")
            #expect(Date().timeIntervalSince(refusedAt) < 3, "refused at once, not retried")

            // No secret in the server's output: the token never appears in what the test process printed or logged.
            let config = try String(contentsOfFile: plane.directory + "/serve-a.yaml", encoding: .utf8)
            #expect(!config.contains(plane.token))
        }
    }

    @Test("an operation: 202 at once, a conflicting one gets 409 naming it, its events stream to the end")
    func operationLifecycle() async throws {
        try await withPlane(childScript: PlaneFixture.applyLikeChild(seconds: 1.5)) { plane in
            let url = try await plane.startServer(node: "a")
            let client = try plane.client(url)
            let (status, body) = try await client.send(.POST, "/v1/deployment/apply", body: try JSONEncoder().encode(ApplyRequest(workspace: sampleBundle)))
            #expect(status == 202, "\(String(decoding: body, as: UTF8.self))")
            let accepted = try decode(AcceptedBody.self, body)
            // Answered before the operation ran to its end (its child takes 1.5 s).
            let (_, recordBody) = try await client.send(.GET, "/v1/operations/\(accepted.operation)")
            #expect(try decode(OperationRecord.self, recordBody).status.isFinished == false, "answered before the operation ran")
            #expect(accepted.operation == "000001" && accepted.events == "/v1/operations/000001/events")

            let (conflict, conflictBody) = try await client.send(
                .POST, "/v1/clusters/web/scale",
                body: try JSONEncoder().encode(ScaleRequest(counts: ["workers": 3], force: nil)))
            #expect(conflict == 409)
            let refusal = try decode(APIErrorBody.self, conflictBody)
            #expect(refusal.operation == "000001" && refusal.error.contains("operation 000001"), "\(refusal)")

            var streamStatus = 0
            var events: [[String: String]] = []
            for try await line in try await client.lines(accepted.events, status: &streamStatus) {
                events.append(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String] ?? [:])
            }
            #expect(streamStatus == 200)
            // stdout's events keep their order; a stderr line lands wherever it was read.
            #expect(events.map { $0["event"] ?? "?" }.filter { $0 != "log" } == ["operation", "plan", "run", "started", "finished", "exit"], "\(events)")
            #expect(events.last?["status"] == "0" && events.last?["outcome"] == "succeeded")
            #expect(events.first { $0["event"] == "log" }?["line"] == "apply of demo complete")

            let (_, operationBody) = try await client.send(.GET, "/v1/operations/000001")
            let operation = try decode(OperationRecord.self, operationBody)
            #expect(operation.status == .succeeded && operation.runs == [7] && operation.node == "a" && operation.attempts == 1)
            let arguments = try String(contentsOfFile: plane.directory + "/arguments", encoding: .utf8)
            #expect(arguments.hasPrefix("run-operation \(plane.directory)/state-a/operations/000001.job.json\n"), "\(arguments)")
            let operations = plane.directory + "/state-a/operations/000001"
            #expect(
                try plane.jobs.first
                    == OperationJob(request: .apply, blueprint: operations + "/photon.yaml", kinds: operations + "/kinds", preview: false, format: .json))
            #expect(!FileManager.default.fileExists(atPath: operations + ".job.json"), "the job goes with the operation's files")
            // The events can be read again from any point (a client whose stream was cut).
            var again: [String] = []
            for try await line in try await client.lines(accepted.events + "?from=6", status: &streamStatus) { again.append(line) }
            #expect(again.count == 2 && again.last?.contains("\"exit\"") == true)

            // The next operation is accepted once this one is over, and runs on the blueprint the apply left.
            let (next, _) = try await client.send(
                .POST, "/v1/clusters/web/scale", body: try JSONEncoder().encode(ScaleRequest(counts: ["workers": 3], force: nil)))
            #expect(next == 202)
        }
    }

    @Test("one leader at a time; when it dies, another takes over within its lease and resumes its running operation")
    func leaderFailover() async throws {
        try await withPlane(childScript: PlaneFixture.applyLikeChild(seconds: 0.2)) { plane in
            let a = try await plane.startServer(node: "a")
            let b = try await plane.startServer(node: "b")
            func leaders() async throws -> [String] {
                var result: [String] = []
                for url in [a, b] {
                    let (_, body) = try await plane.client(url).send(.GET, "/v1/health")
                    if try decode(HealthBody.self, body).leader == true { result.append(url) }
                }
                return result
            }
            var deadline = Date().addingTimeInterval(10)
            var current = try await leaders()
            while current.count != 1, Date() < deadline {
                try await Task.sleep(for: .milliseconds(200))
                current = try await leaders()
            }
            #expect(current.count == 1, "exactly one leader: \(current)")
            let leader = try #require(current.first)
            let follower = leader == a ? b : a

            // An operation the leader was running when it died: recorded running, on its node.
            let book = OperationBook(etcd: try plane.etcdClient, prefix: "/photon/demo/", authenticator: try plane.authenticator)
            try await book.setWorkspace(sampleBundle)
            let orphan = OperationRecord(
                id: "000009", request: .scale("web", counts: ["workers": 3], force: false), summary: "scale web workers=3", status: .running,
                node: leader == a ? "a" : "b", attempts: 1, createdAt: Date(), startedAt: Date(), finishedAt: nil, exitStatus: nil, runs: [])
            await plane.stopServer(leader)
            try await book.put(orphan)
            let died = Date()
            deadline = Date().addingTimeInterval(15)
            var resumed: OperationRecord?
            while Date() < deadline {
                if let record = try await book.get("000009"), record.status == .succeeded {
                    resumed = record
                    break
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            let record = try #require(resumed, "the follower resumed the operation")
            #expect(record.node == (follower == a ? "a" : "b") && record.attempts == 2)
            #expect(Date().timeIntervalSince(died) < 8, "within the lease (2 s) and the supervisor's poll")
            let (_, body) = try await plane.client(follower).send(.GET, "/v1/health")
            #expect(try decode(HealthBody.self, body).leader == true)
            let events = try await book.events("000009", from: 1).map(\.line)
            #expect(events.first?.contains("\"resumed\"") == true, "\(events)")
        }
    }

    @Test("status reads are reused while etcd's revision stands, and show a write at once")
    func statusFollowsWrites() async throws {
        try await withPlane { plane in
            let url = try await plane.startServer(node: "a")
            let client = try plane.client(url)
            func serial() async throws -> Int {
                let (status, body) = try await client.send(.GET, "/v1/deployment")
                #expect(status == 200)
                return try decode(DeploymentBody.self, body).serial
            }
            let first = try await serial()
            #expect(try await serial() == first)
            let store = try await EtcdStateStore(
                etcd: try plane.etcdClient, prefix: "/photon/demo/", deployment: "demo", keyDirectory: plane.directory + "/state-a")
            try await store.recordScaledCounts([ScaledCount(group: "web", role: "workers", count: 3, baseCount: 1)])
            #expect(try await serial() == first + 1, "the next read after a write shows it")
            let (_, body) = try await client.send(.GET, "/v1/deployment")
            #expect(try decode(DeploymentBody.self, body).scaled.map(\.count) == [3])
        }
    }

    @Test("the running server matches Sources/PlaneAPI/openapi.yaml: every documented operation, its statuses and bodies")
    func openAPIDocument() async throws {
        try await withPlane(childScript: PlaneFixture.applyLikeChild(seconds: 2)) { plane in
            let url = try await plane.startServer(node: "a")
            // Some recorded state, so the documents are not empty.
            let store = try await EtcdStateStore(
                etcd: try plane.etcdClient, prefix: "/photon/demo/", deployment: "demo", keyDirectory: plane.directory + "/state-a")
            let run = try await store.beginRun(command: "apply", blueprintDigest: "sha256:1")
            let spec = MachineSpec(
                name: "demo-web-workers-1", group: "web", kind: "swarm", role: "workers", index: 1,
                flavor: Flavor(name: "small", milliCPU: 1000, memory: ByteSize(bytes: 1 << 30), disk: ByteSize(bytes: 1 << 33)),
                address: "10.0.0.3", needs: [])
            try await store.record([
                Transition(
                    actionID: "create", machine: spec.name, status: .succeeded,
                    effects: [
                        .machineIntent(spec),
                        .machineCreated(spec, MachineHandle(name: spec.name, address: "10.0.0.3", hostKeyFingerprint: "SHA256:x", driverID: "x")),
                        .machineReady(name: spec.name),
                    ])
            ])
            try await store.finishRun(run, status: .succeeded, summary: "1 done")
            try await store.recordApplied(blueprint: Array(sampleBundle.blueprint.utf8), digest: "sha256:1")
            try await store.recordScaledCounts([ScaledCount(group: "web", role: "workers", count: 1, baseCount: 2)])

            let apply = try JSONSerialization.jsonObject(with: JSONEncoder().encode(ApplyRequest(workspace: sampleBundle))) as? [String: Any] ?? [:]
            let requests: [[String: Any]] = [
                ["method": "GET", "path": "/v1/health", "status": 200],
                ["method": "GET", "path": "/v1/health", "status": 200, "token": false],
                ["method": "GET", "path": "/v1/deployment", "status": 200],
                ["method": "GET", "path": "/v1/deployment", "status": 401, "tokenValue": "wrong"],
                ["method": "GET", "path": "/v1/clusters", "status": 200],
                ["method": "GET", "path": "/v1/clusters/web", "status": 200],
                ["method": "GET", "path": "/v1/clusters/nope", "status": 404],
                ["method": "GET", "path": "/v1/runs?limit=5", "status": 200],
                ["method": "GET", "path": "/v1/runs/\(run)", "status": 200],
                ["method": "GET", "path": "/v1/runs/999", "status": 404],
                ["method": "POST", "path": "/v1/deployment/plan", "body": ["workspace": apply["workspace"] ?? [:]], "status": 200],
                ["method": "POST", "path": "/v1/deployment/apply", "body": apply, "status": 202],
                ["method": "POST", "path": "/v1/deployment/apply", "body": ["nonsense": 1], "status": 400],
                ["method": "POST", "path": "/v1/clusters/web/scale", "body": ["counts": ["workers": 3]], "status": 409],
                ["method": "DELETE", "path": "/v1/clusters/web", "status": 409],
                ["method": "DELETE", "path": "/v1/clusters", "status": 409],
                ["method": "GET", "path": "/v1/operations", "status": 200],
                ["method": "GET", "path": "/v1/operations/000001", "status": 200],
                ["method": "GET", "path": "/v1/operations/000404", "status": 404],
                ["method": "GET", "path": "/v1/operations/000001/events", "status": 200],
            ]
            let requestsPath = plane.directory + "/requests.json"
            try JSONSerialization.data(withJSONObject: requests).write(to: URL(fileURLWithPath: requestsPath))
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("check_openapi.py").path
            let document = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Sources/PlaneAPI/openapi.yaml").path
            let result = try await HostCommand.run(["/usr/bin/python3", script, document, url, plane.token, plane.directory + "/tls/server.crt", requestsPath])
            #expect(result.succeeded, "\(result.stdout)\(result.stderr)")
        }
    }
}
