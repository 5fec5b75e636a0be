import Foundation
import PhotonCore
import Testing

@testable import PlaneAPI

/// What a plane server hands its child: a typed job whose command line never carries a request's value,
/// and a request whose names are not labels (however it got into etcd) never becomes a job.
@Suite("Operation requests", .tags(.security))
struct OperationRequestTests {
    @Test("a job goes to its child as a file the child reads back unchanged; the command line is fixed")
    func jobs() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("photon-job-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let scale = OperationRequest.scale("web", counts: ["workers": 5, "managers": 3], force: true)
        for job in [
            try OperationJob(request: .apply, blueprint: "b.yaml", kinds: "k"),
            try OperationJob(request: .apply, blueprint: "b.yaml", kinds: "k", preview: true, format: .text),
            try OperationJob(request: scale, blueprint: "b.yaml", kinds: "k", preview: true),
            try OperationJob(request: .destroy(cluster: nil), blueprint: "--templates", kinds: "k"),
        ] {
            let file = folder + "/job.json"
            try job.write(to: file)
            #expect(try OperationJob.read(file) == job)
            let attributes = try FileManager.default.attributesOfItem(atPath: file)
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
            #expect(OperationJob.arguments(executable: "/usr/local/bin/photon", file: file) == ["/usr/local/bin/photon", "run-operation", file])
        }
        #expect(throws: PhotonError.self) { try OperationJob(request: .destroy(cluster: "web"), blueprint: "b.yaml", kinds: "k", preview: true) }
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
        #expect(throws: PhotonError.self) { try OperationJob(request: request, blueprint: "b.yaml", kinds: "k") }
        // Nor is one a job file carries (a job is checked again when the child reads it).
        let forged = #"{"blueprint":"b.yaml","format":"json","kinds":"k","preview":false,"request":"# + json + "}"
        #expect(throws: PhotonError.self) { try JSONDecoder().decode(OperationJob.self, from: Data(forged.utf8)) }
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
