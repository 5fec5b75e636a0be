import EngineTestSupport
import Etcd
import Foundation
import PhotonCore
import StateStore
import Testing

@testable import PlaneAPI

/// Someone who can write to the plane's etcd without the deployment's key (a stolen client certificate,
/// a hand edit) cannot make the plane run anything: records that do not verify are ignored.
@Suite("photon serve: forged records", .tags(.security))
struct ForgedRecordTests {
    @Test("a forged or tampered operation record, and a forged workspace, are never run or shown")
    func forgedRecordsAreIgnored() async throws {
        try await withPlane(childScript: PlaneFixture.applyLikeChild(seconds: 0)) { plane in
            let url = try await plane.startServer(node: "a")
            let etcd = try plane.etcdClient
            // What an attacker would write: a queued operation of their choosing, and a workspace of their kinds.
            let forged = OperationRecord(
                id: "000001", request: .destroy(cluster: "web"), summary: "owned", status: .queued, node: nil, attempts: 0,
                createdAt: Date(), startedAt: nil, finishedAt: nil, exitStatus: nil, runs: [])
            try await etcd.put("/photon/demo/op/000001", try OperationBook.encode(forged))
            let attackerKey = RecordAuthenticator.random()
            let other = OperationBook(etcd: etcd, prefix: "/photon/demo/", authenticator: attackerKey)
            try await other.put(
                OperationRecord(
                    id: "000002", request: .destroy(cluster: nil), summary: "owned too", status: .queued,
                    node: nil, attempts: 0, createdAt: Date(), startedAt: nil, finishedAt: nil, exitStatus: nil, runs: []))
            try await other.setWorkspace(BlueprintBundle(blueprintFile: "x.yaml", blueprint: "name: demo\n", kinds: ["evil/kind.yaml": "kind: evil\n"]))

            // The leader supervises every half second: give it a few rounds.
            try await Task.sleep(for: .seconds(3))
            #expect(!FileManager.default.fileExists(atPath: plane.directory + "/arguments"), "a forged operation ran")
            let (status, body) = try await plane.client(url).send(.GET, "/v1/operations")
            #expect(status == 200)
            #expect(try decode([OperationRecord].self, body).isEmpty, "\(String(decoding: body, as: UTF8.self))")

            // A scale needs the plane's workspace: the forged one is not it.
            let book = OperationBook(etcd: etcd, prefix: "/photon/demo/", authenticator: try plane.authenticator)
            #expect(try await book.workspace() == nil)

            // A genuine operation still runs, under an id of its own; then tampering with its record hides it.
            let (accepted, acceptedBody) = try await plane.client(url).send(
                .POST, "/v1/deployment/apply",
                body: try JSONEncoder().encode(ApplyRequest(workspace: sampleBundle)))
            #expect(accepted == 202)
            let id = try decode(AcceptedBody.self, acceptedBody).operation
            #expect(id == "000003")
            let deadline = Date().addingTimeInterval(15)
            while try await book.get(id)?.status.isFinished != true, Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
            #expect(try await book.get(id)?.status == .succeeded)
            let arguments = try String(contentsOfFile: plane.directory + "/arguments", encoding: .utf8)
            #expect(!arguments.contains("--cluster") && !arguments.contains("--keep-management"), "\(arguments)")

            var stored = try #require(try await etcd.get("/photon/demo/op/\(id)"))
            var envelope = try OperationBook.decode(OperationBook.Authenticated.self, stored.value)
            var record = try OperationBook.decode(OperationRecord.self, Array(envelope.body))
            record.status = .queued
            record.request = .destroy(cluster: nil)
            envelope.body = Data(try OperationBook.encode(record))
            try await etcd.put(stored.key, try OperationBook.encode(envelope))
            stored = try #require(try await etcd.get("/photon/demo/op/\(id)"))
            #expect(try await book.get(id) == nil, "a tampered record is not read")
        }
    }
}
