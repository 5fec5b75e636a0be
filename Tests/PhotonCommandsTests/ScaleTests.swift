import EngineTestSupport
import Foundation
import Testing

/// `photon scale` through the crash-test bed (file-backed machines): the plan first, the three-way merge
/// with the blueprint, cost proportional to the change, and the quorum rules.
@Suite("scale", .serialized)
struct ScaleTests {
    typealias Bed = ApplyTests.Bed

    @Test("scale up makes only the new machines; scale down drains and removes the highest; the scaled count survives apply")
    func scaleUpAndDown() async throws {
        let bed = try Bed(members: 2)
        defer { bed.remove() }
        #expect(try await bed.apply().status == 0)

        let dry = try await bed.photon(["scale", "-f", bed.blueprint.path, "c", "members=4", "--dry-run"])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("members: 4 machines (was 2) (set by photon scale; the blueprint says 2)"), "\(dry.stdout)")
        #expect(dry.stdout.contains("Plan: 2 machines to create, 0 to change, 0 to delete, 3 unchanged"), "\(dry.stdout)")
        #expect(dry.stderr.contains("Dry run: nothing was changed."))
        #expect(bed.files.creations().count == 3, "a dry run makes nothing")

        let up = try await bed.photon(["scale", "-f", bed.blueprint.path, "c", "members=4", "--yes"])
        #expect(up.status == 0, "\(up.stderr)")
        let creations = bed.files.creations()
        #expect(creations.count == 5 && creations.values.allSatisfy { $0 == 1 }, "each machine made once: \(creations)")
        #expect(bed.files.runs(of: "initialised", on: "t-c-leaders-1") == 1, "the existing leader is not set up again")
        #expect(bed.files.runs(of: "joined", on: "t-c-members-3") == 1 && bed.files.runs(of: "joined", on: "t-c-members-4") == 1)
        #expect(bed.files.runs(of: "joined", on: "t-c-members-1") == 1, "existing members do not join again")

        // A later apply of the unchanged blueprint keeps the scaled count, and says where it comes from.
        let plan = try await bed.photon(["plan", "-f", bed.blueprint.path])
        #expect(plan.stdout.contains("members: 4 machines (set by photon scale; the blueprint says 2)"), "\(plan.stdout)")
        #expect(plan.stdout.contains("No changes"), "\(plan.stdout)")
        let status = try await bed.photon(["status", "-f", bed.blueprint.path])
        #expect(status.stdout.contains("members: 4 machines (scaled to 4 by photon scale; the blueprint said 2)"), "\(status.stdout)")

        let down = try await bed.photon(["scale", "-f", bed.blueprint.path, "c", "members=3", "--yes"])
        #expect(down.status == 0, "\(down.stderr)")
        #expect(down.stdout.contains("- t-c-members-4"), "the highest-numbered goes: \(down.stdout)")
        #expect(down.stdout.contains("toy-drain t-c-members-4"), "drained through a leader first: \(down.stdout)")
        let made = { (name: String) in FileManager.default.fileExists(atPath: bed.machines.appendingPathComponent("machines/\(name)").path) }
        #expect(made("t-c-members-3") && !made("t-c-members-4"))
        #expect(bed.files.deletions() == ["t-c-members-4": 1])

        // The blueprint changed since the scale: it wins, and the scaled count is forgotten once applied.
        try bed.write(members: 1)
        let applied = try await bed.apply()
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(applied.stdout.contains("members: 1 machine (was 3)"), "\(applied.stdout)")
        #expect(!applied.stdout.contains("set by photon scale"))
        try bed.write(members: 2)
        let back = try await bed.photon(["plan", "-f", bed.blueprint.path])
        #expect(
            back.stdout.contains("members: 2 machines (was 1)") && !back.stdout.contains("photon scale"),
            "the old scaled count does not come back: \(back.stdout)")
    }

    @Test("counts that break the kind's rules are refused with reasons; --force allows an even quorum")
    func refusals() async throws {
        let bed = try Bed(members: 1)
        defer { bed.remove() }
        #expect(try await bed.apply().status == 0)
        let cases: [([String], String)] = [
            (["nope", "members=2"], "the blueprint has no cluster 'nope'"),
            (["c", "memberz=2"], "cluster 'c' (toy) has no role 'memberz'"),
            (["c", "leaders=0"], "c leaders cannot be 0: kind toy allows 1–3 (odd) leaders"),
            (["c", "leaders=2"], "c leaders form a quorum: 2 members tolerate no more failures than 1"),
            (["c", "members=x"], "'members=x' is not ROLE=N"),
        ]
        for (arguments, message) in cases {
            let result = try await bed.photon(["scale", "-f", bed.blueprint.path] + arguments + ["--yes"])
            #expect(result.status != 0)
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
        #expect(try await bed.photon(["scale", "-f", bed.blueprint.path, "c", "leaders=2", "--dry-run"]).status != 0)
        let forced = try await bed.photon(["scale", "-f", bed.blueprint.path, "c", "leaders=2", "--force", "--dry-run"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(forced.stdout.contains("leaders: 2 machines (was 1) (set by photon scale; the blueprint says 1)"), "\(forced.stdout)")
    }
}
