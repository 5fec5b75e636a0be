import EngineTestSupport
import Foundation
import PhotonCore
import Testing

/// `photon state backup` and `photon state restore` on the crash-test bed's deployments.
@Suite("state backup and restore", .serialized)
struct StateBackupTests {
    typealias Bed = ApplyTests.Bed

    @Test("a damaged state is restored from its backup; what it replaced is kept; a run afterwards has nothing to do")
    func damagedStateRestored() async throws {
        let bed = try Bed(members: 2)
        defer { bed.remove() }
        #expect(try await bed.apply().status == 0)
        let archive = bed.root.appendingPathComponent("t-state.tar").path
        let saved = try await bed.photon(["state", "backup", "-f", bed.blueprint.path, "-o", archive])
        #expect(saved.status == 0, "\(saved.stderr)")
        #expect(saved.stdout == archive + "\n")
        let mode = (try FileManager.default.attributesOfItem(atPath: archive)[.posixPermissions] as? Int) ?? 0
        #expect(mode == 0o600, "mode \(String(mode, radix: 8))")
        #expect(saved.stderr.contains("secrets.key") && saved.stderr.contains("state.sqlite"), "\(saved.stderr)")

        // The state file is damaged: every command refuses it, and so must a restore of a bad archive.
        let database = bed.state.appendingPathComponent("state.sqlite")
        var bytes = try Data(contentsOf: database)
        bytes.replaceSubrange(100..<4000, with: Data(repeating: 0x5A, count: 3900))
        try bytes.write(to: database)
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: database.path + suffix) }
        #expect(try await bed.photon(["status", "-f", bed.blueprint.path]).status == 1)
        let junk = bed.root.appendingPathComponent("junk.tar").path
        _ = try HostCommand.runBlocking(["tar", "-C", bed.root.path, "-cf", junk, "bp.yaml"])
        let refused = try await bed.photon(["state", "restore", "-f", bed.blueprint.path, junk, "--yes"])
        #expect(refused.status == 1 && refused.stderr.contains("not a backup of photon's state"), "\(refused.stderr)")
        #expect(try Data(contentsOf: database) == bytes, "a refused restore changed the state")

        let restored = try await bed.photon(["state", "restore", "-f", bed.blueprint.path, archive, "--yes"])
        #expect(restored.status == 0, "\(restored.stderr)")
        let replaced = try FileManager.default.contentsOfDirectory(atPath: bed.state.path).filter { $0.hasPrefix("replaced-") }
        #expect(replaced.count == 1)
        #expect(try Data(contentsOf: bed.state.appendingPathComponent(replaced[0] + "/state.sqlite")) == bytes, "the damaged file is kept")
        let again = try await bed.apply()
        #expect(again.status == 0 && again.stdout.contains("No changes"), "\(again.stdout) \(again.stderr)")
    }

    @Test("a backup of another deployment is refused and changes nothing")
    func otherDeploymentRefused() async throws {
        let bed = try Bed(members: 1)
        defer { bed.remove() }
        #expect(try await bed.apply().status == 0)
        let archive = bed.root.appendingPathComponent("t-state.tar").path
        #expect(try await bed.photon(["state", "backup", "-f", bed.blueprint.path, "-o", archive]).status == 0)
        let other = try Bed(members: 1)
        defer { other.remove() }
        try String(contentsOf: other.blueprint, encoding: .utf8).replacingOccurrences(of: "name: t\n", with: "name: u\n")
            .write(to: other.blueprint, atomically: true, encoding: .utf8)
        #expect(try await other.apply().status == 0)
        let before = try Data(contentsOf: other.state.appendingPathComponent("state.sqlite"))
        let refused = try await other.photon(["state", "restore", "-f", other.blueprint.path, archive, "--yes"])
        #expect(refused.status == 1 && refused.stderr.contains("cannot be restored"), "\(refused.stderr)")
        #expect(try Data(contentsOf: other.state.appendingPathComponent("state.sqlite")) == before)
    }

    @Test("an archive holding a link is refused before anything is replaced")
    func linkRefused() async throws {
        let bed = try Bed(members: 1)
        defer { bed.remove() }
        #expect(try await bed.apply().status == 0)
        let archive = bed.root.appendingPathComponent("t-state.tar").path
        #expect(try await bed.photon(["state", "backup", "-f", bed.blueprint.path, "-o", archive]).status == 0)
        // The same archive with a plane folder that is a link out of the state.
        let staging = bed.root.appendingPathComponent("hostile")
        #expect(
            try HostCommand.runBlocking([
                "sh", "-c", "mkdir -p \"$1\" && tar -C \"$1\" -xf \"$2\" && ln -s / \"$1/plane\" && tar -C \"$1\" -cf \"$2\" .", "sh", staging.path, archive,
            ]).succeeded)
        let before = try Data(contentsOf: bed.state.appendingPathComponent("state.sqlite"))
        let refused = try await bed.photon(["state", "restore", "-f", bed.blueprint.path, archive, "--yes"])
        #expect(refused.status == 1 && refused.stderr.contains("holds plane, which is not a plain file or folder"), "\(refused.stderr)")
        #expect(try Data(contentsOf: bed.state.appendingPathComponent("state.sqlite")) == before)
        #expect(!FileManager.default.fileExists(atPath: bed.state.appendingPathComponent("plane").path))
    }
}
