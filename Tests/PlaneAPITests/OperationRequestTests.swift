import Foundation
import PhotonCore
import Testing

@testable import PlaneAPI

/// The one place a plane operation becomes photon's argument list: options first, names after `--`,
/// and a record whose names are not labels (however it got into etcd) never becomes a command line.
@Suite("Operation requests", .tags(.security))
struct OperationRequestTests {
    @Test("each request runs and previews as the matching photon command, names after the options")
    func commandLines() throws {
        let files = ["-f", "b.yaml", "--templates", "k"]
        #expect(try OperationRequest.apply.commandLine(blueprint: "b.yaml", kinds: "k") == ["apply"] + files + ["--yes", "--format", "json"])
        #expect(
            try OperationRequest.apply.commandLine(blueprint: "b.yaml", kinds: "k", format: "text", dryRun: true)
                == ["plan"] + files + ["--format", "text", "--detailed-exitcode"])
        let scale = OperationRequest.scale("web", counts: ["workers": 5, "managers": 3], force: true)
        #expect(
            try scale.commandLine(blueprint: "b.yaml", kinds: "k")
                == ["scale"] + files + ["--yes", "--format", "json", "--force", "--", "web", "managers=3", "workers=5"])
        #expect(
            try scale.commandLine(blueprint: "b.yaml", kinds: "k", format: "xml", dryRun: true)
                == ["scale"] + files + ["--dry-run", "--format", "text", "--force", "--", "web", "managers=3", "workers=5"])
        #expect(
            try OperationRequest.destroy(cluster: "web").commandLine(blueprint: "b.yaml", kinds: "k")
                == ["destroy"] + files + ["--yes", "--format", "json", "--cluster", "web"])
        #expect(
            try OperationRequest.destroy(cluster: nil).commandLine(blueprint: "b.yaml", kinds: "k")
                == ["destroy"] + files + ["--yes", "--format", "json", "--keep-management"])
        #expect(scale.summary == "scale web managers=3 workers=5")
    }

    @Test(
        "a request with a name that is not a label, or a shape that does not fit its kind, has a problem and no command line",
        arguments: [
            #"{"kind":"scale","cluster":"--file=/etc/photon/tls/server.key","counts":{"workers":1}}"#,
            #"{"kind":"scale","cluster":"web","counts":{"--force":1}}"#,
            #"{"kind":"scale","cluster":"web","counts":{"workers":-1}}"#,
            #"{"kind":"scale","cluster":"web","counts":{}}"#,
            #"{"kind":"scale","counts":{"workers":1}}"#,
            #"{"kind":"destroy","cluster":"../x"}"#,
            #"{"kind":"destroy","cluster":"web","counts":{"workers":1}}"#,
            #"{"kind":"apply","cluster":"web"}"#,
        ])
    func refused(json: String) throws {
        let request = try JSONDecoder().decode(OperationRequest.self, from: Data(json.utf8))
        #expect(request.problem != nil)
        #expect(throws: PhotonError.self) { try request.commandLine(blueprint: "b.yaml", kinds: "k") }
    }

    @Test("a record's request survives the round trip through its JSON")
    func roundTrip() throws {
        let record = OperationRecord(
            id: "000001", request: .scale("web", counts: ["workers": 2], force: false), summary: "s", status: .queued,
            node: nil, attempts: 0, createdAt: Date(timeIntervalSince1970: 0), startedAt: nil, finishedAt: nil,
            exitStatus: nil, runs: [])
        #expect(try OperationBook.decode(OperationRecord.self, OperationBook.encode(record)) == record)
    }
}
