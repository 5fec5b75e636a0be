import Foundation
import Testing

/// `photon runs` and `photon logs` on the crash-test bed's deployments.
@Suite("runs and logs", .serialized)
struct RunHistoryTests {
    typealias Bed = ApplyTests.Bed

    @Test("runs lists the kept runs newest first; logs shows a run's log, one machine's lines, and a failed step's stderr")
    func runsAndLogs() async throws {
        let bed = try Bed(members: 2)
        defer { bed.remove() }
        #expect(try await bed.apply().status == 0)
        try bed.write(members: 3)
        let failed = try await bed.apply(["PHOTON_TESTBED_FAIL_COMMAND": "toy-join"])
        #expect(failed.status == 1)

        let json = try await bed.photon(["runs", "-f", bed.blueprint.path, "--format", "json"])
        #expect(json.status == 0, "\(json.stderr)")
        let runs = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(runs.map { $0["status"] as? String ?? "" } == ["failed", "succeeded"], "\(json.stdout)")
        #expect(runs.allSatisfy { $0["command"] as? String == "apply" && ($0["startedAt"] as? String)?.hasSuffix("Z") == true })
        let text = try await bed.photon(["runs", "-f", bed.blueprint.path])
        #expect(text.stdout.hasPrefix("RUN  COMMAND") && text.stdout.contains("failed") && text.stdout.contains("succeeded"), "\(text.stdout)")

        let last = try await bed.photon(["logs", "-f", bed.blueprint.path])
        #expect(last.status == 0, "\(last.stderr)")
        #expect(last.stdout.contains("failed t-c-members-3/join/1 on t-c-members-3"), "\(last.stdout)")
        #expect(last.stdout.contains("  | toy-join: refused on t-c-members-3"), "\(last.stdout)")
        let first = (runs.last?["id"] as? Int).map(String.init) ?? "1"
        let one = try await bed.photon(["logs", "-f", bed.blueprint.path, first, "--machine", "t-c-members-1"])
        let lines = one.stdout.split(separator: "\n")
        #expect(!lines.isEmpty && lines.allSatisfy { $0.contains("t-c-members-1") }, "\(one.stdout)")
        let missing = try await bed.photon(["logs", "-f", bed.blueprint.path, "99"])
        #expect(missing.status == 1 && missing.stderr.contains("there is no run 99"), "\(missing.stderr)")
    }
}
