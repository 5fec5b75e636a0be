import EngineTestSupport
import Foundation
import StateStore
import Testing

/// `photon apply` run as a child process — the crash-test bed with file-backed machines — killed with
/// SIGKILL at every journal point, interrupted with SIGINT, blocked by locks, fed stale plans.
@Suite("apply, destroy, status", .serialized)
struct ApplyTests {
    /// A scratch directory with the toy kind, a blueprint, machines and state, removed afterwards.
    struct Bed {
        let root: URL
        var machines: URL { root.appendingPathComponent("machines") }
        var state: URL { root.appendingPathComponent("state") }
        var blueprint: URL { root.appendingPathComponent("bp.yaml") }

        init(members: Int, leaders: Int = 1) throws {
            root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("photon-bed-\(UUID().uuidString)")
            try ToyKind.install(in: root.appendingPathComponent("kinds"))
            try write(members: members, leaders: leaders)
        }

        func write(members: Int, leaders: Int = 1) throws {
            try Data(
                """
                name: t
                controlPlane: {driver: local, network: 10.50.0.0/24}
                clusters:
                  - name: c
                    kind: toy
                    roles: {leaders: \(leaders), members: \(members)}

                """.utf8
            ).write(to: blueprint)
        }

        func remove() { try? FileManager.default.removeItem(at: root) }

        /// Runs the test bed; `environment` adds fault knobs.
        func photon(_ arguments: [String], environment: [String: String] = [:]) async throws -> CLIFixture.Result {
            try await CLIFixture.run(
                arguments + ["--templates", root.appendingPathComponent("kinds").path, "--state", state.path],
                environment: ["PHOTON_TESTBED_MACHINES": machines.path].merging(environment) { $1 },
                directory: root, executable: try ApplyTests.testbed)
        }

        func apply(_ environment: [String: String] = [:], extra: [String] = []) async throws -> CLIFixture.Result {
            try await photon(["apply", "-f", blueprint.path, "--yes"] + extra, environment: environment)
        }

        var files: FileBackedMachines { FileBackedMachines(root: machines) }
    }

    static var testbed: URL {
        get throws {
            let photon = try CLIFixture.executable
            let bed = photon.deletingLastPathComponent().appendingPathComponent("photon-testbed")
            guard FileManager.default.isExecutableFile(atPath: bed.path) else { throw FixtureError("photon-testbed is not built; run 'swift build'") }
            return bed
        }
    }

    /// Every machine made once, every non-idempotent step run once, everything ready.
    func expectConverged(_ bed: Bed, members: Int, sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws {
        let machines = bed.files
        var expected = ["t-c-leaders-1": 1]
        for member in 0..<members { expected["t-c-members-\(member + 1)"] = 1 }
        #expect(machines.creations() == expected, sourceLocation: sourceLocation)
        #expect(machines.runs(of: "initialised", on: "t-c-leaders-1") == 1, sourceLocation: sourceLocation)
        for member in 0..<members {
            let name = "t-c-members-\(member + 1)"
            #expect(machines.runs(of: "joined", on: name) == 1, "\(name) joined \(machines.runs(of: "joined", on: name)) times", sourceLocation: sourceLocation)
            #expect(
                machines.lastJoin(on: name)?.hasPrefix("with TOKEN-t-c-leaders-1: toy-join --config /etc/toy.conf ") == true, sourceLocation: sourceLocation)
        }
        let status = try await bed.photon(["status", "-f", bed.blueprint.path, "--format", "json"])
        let report = try #require(JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any], sourceLocation: sourceLocation)
        let recorded = report["machines"] as? [[String: Any]] ?? []
        #expect(recorded.count == members + 1, sourceLocation: sourceLocation)
        #expect(recorded.allSatisfy { $0["lifecycle"] as? String == "ready" }, sourceLocation: sourceLocation)
        #expect(report["lock"] == nil, sourceLocation: sourceLocation)
        #expect((report["drift"] as? [String: Any])?["create"] as? Int == 0, sourceLocation: sourceLocation)
    }

    @Test("killed with SIGKILL after every journaled transition of a 50-action plan, the next apply converges")
    func killAtEveryTransition() async throws {
        // 1 leader (6 actions) and 11 members (4 each): 50 actions, 100 transitions.
        let members = 11
        let reference = try Bed(members: members)
        defer { reference.remove() }
        let clean = try await reference.apply()
        #expect(clean.status == 0, "\(clean.stderr)")
        #expect(clean.stdout.contains("; 50 actions."))
        try await expectConverged(reference, members: members)
        for point in 1..<100 {
            let bed = try Bed(members: members)
            defer { bed.remove() }
            let killed = try await bed.apply(["PHOTON_TESTBED_KILL_AT": "\(point)"])
            #expect(killed.status == 9, "kill point \(point): the run was not killed (status \(killed.status))")
            let resumed = try await bed.apply()
            #expect(resumed.status == 0, "kill point \(point): \(resumed.stderr)")
            try await expectConverged(bed, members: members)
        }
    }

    @Test("killed after a command ran but before its outcome was journaled, the guarded step is not run again")
    func killBetweenCommandAndJournal() async throws {
        let members = 3
        let reference = try Bed(members: members)
        defer { reference.remove() }
        #expect(try await reference.apply().status == 0)
        let commands = (["t-c-leaders-1"] + (1...members).map { "t-c-members-\($0)" }).reduce(0) { $0 + reference.files.commands(on: $1).count }
        #expect(commands >= 8)
        for point in 1...commands {
            let bed = try Bed(members: members)
            defer { bed.remove() }
            let killed = try await bed.apply(["PHOTON_TESTBED_KILL_AFTER_COMMAND": "\(point)"])
            #expect(killed.status == 9, "command \(point): status \(killed.status)")
            let resumed = try await bed.apply()
            #expect(resumed.status == 0, "command \(point): \(resumed.stderr)")
            try await expectConverged(bed, members: members)
        }
    }

    @Test("a second apply fails at once naming the lock holder; a holder that died is taken over with a warning")
    func locks() async throws {
        let bed = try Bed(members: 1)
        defer { bed.remove() }
        // A live holder: this test process.
        let store = try SQLiteStateStore.open(directory: bed.state.path, deployment: "t")
        let held = try store.acquireLock(command: "apply by a test")
        let refused = try await bed.apply()
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("pid \(getpid())"))
        #expect(refused.stderr.contains("apply by a test"))
        #expect(refused.stderr.contains("photon unlock --force \(held.id.uuidString)"))
        let unlocked = try await bed.photon(["unlock", "--force", held.id.uuidString, "-f", bed.blueprint.path])
        #expect(unlocked.status == 0, "\(unlocked.stderr)")
        try store.close()
        // A holder that died: an apply killed half-way.
        let killed = try await bed.apply(["PHOTON_TESTBED_KILL_AT": "6"])
        #expect(killed.status == 9)
        let takenOver = try await bed.apply()
        #expect(takenOver.status == 0, "\(takenOver.stderr)")
        #expect(takenOver.stderr.contains("warning:"))
        try await expectConverged(bed, members: 1)
    }

    @Test("a saved plan runs exactly when nothing changed, and is refused once the state moved on")
    func savedPlans() async throws {
        let bed = try Bed(members: 2)
        defer { bed.remove() }
        let planFile = bed.root.appendingPathComponent("plan.json").path
        let planned = try await bed.photon(["plan", "-f", bed.blueprint.path, "-o", planFile])
        #expect(planned.status == 0, "\(planned.stderr)")
        let applied = try await bed.photon(["apply", planFile, "--yes"])
        #expect(applied.status == 0, "\(applied.stderr)")
        try await expectConverged(bed, members: 2)
        let stale = try await bed.photon(["apply", planFile, "--yes"])
        #expect(stale.status == 1)
        #expect(stale.stderr.contains("the saved plan is stale: it was made at state serial 0"))
        // A plan of an edited blueprint is refused too.
        let newer = try await bed.photon(["plan", "-f", bed.blueprint.path, "-o", planFile])
        #expect(newer.status == 0)
        try bed.write(members: 3)
        let edited = try await bed.photon(["apply", planFile, "--yes"])
        #expect(edited.status == 1)
        #expect(edited.stderr.contains("the saved plan was made from another version of"))
    }

    @Test("a saved plan whose command was edited is refused, naming the action; nothing runs")
    func editedSavedPlan() async throws {
        let bed = try Bed(members: 2)
        defer { bed.remove() }
        let planFile = bed.root.appendingPathComponent("plan.json")
        #expect(try await bed.photon(["plan", "-f", bed.blueprint.path, "-o", planFile.path]).status == 0)
        let text = try String(contentsOf: planFile, encoding: .utf8)
        #expect(text.contains("toy-join --config"))
        try text.replacingOccurrences(of: "toy-join --config", with: "toy-join --evil --config").write(to: planFile, atomically: true, encoding: .utf8)
        let refused = try await bed.photon(["apply", planFile.path, "--yes"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("is not what this blueprint and state plan for it: the plan file was changed"), "\(refused.stderr)")
        #expect(bed.files.creations().isEmpty, "a refused plan made machines")
    }

    @Test("Ctrl-C stops starting actions and exits 130; the next apply finishes")
    func interrupt() async throws {
        let bed = try Bed(members: 4)
        defer { bed.remove() }
        let process = Process()
        process.executableURL = try Self.testbed
        process.arguments = [
            "apply", "-f", bed.blueprint.path, "--yes", "--templates", bed.root.appendingPathComponent("kinds").path, "--state", bed.state.path,
        ]
        process.environment = ["PHOTON_TESTBED_MACHINES": bed.machines.path, "PHOTON_TESTBED_LATENCY_MS": "300", "NO_COLOR": "1", "PATH": "/usr/bin:/bin"]
        process.currentDirectoryURL = bed.root
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // A thread of its own times the interrupt: under a loaded test run, a task's sleep can wake late
        // enough for the apply to have finished.
        let pid = process.processIdentifier
        Thread {
            usleep(900_000)
            kill(pid, SIGINT)
        }.start()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 130, "\(stderr)")
        #expect(stderr.contains("stopping: running actions finish"))
        #expect(stderr.contains("interrupted"))
        let resumed = try await bed.apply()
        #expect(resumed.status == 0, "\(resumed.stderr)")
        try await expectConverged(bed, members: 4)
    }

    @Test("without a terminal, apply needs --yes; --format json streams one event per transition")
    func confirmationAndJSON() async throws {
        let bed = try Bed(members: 1)
        defer { bed.remove() }
        let refused = try await bed.photon(["apply", "-f", bed.blueprint.path])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("there is no terminal to ask on"))
        #expect(bed.files.creations().isEmpty)
        let json = try await bed.apply(extra: ["--format", "json"])
        #expect(json.status == 0, "\(json.stderr)")
        var events = json.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] }
        #expect(events.first?["event"] == "plan" && events.first?["text"]?.contains("create") == true, "the plan comes first, as text")
        #expect(events.dropFirst().first?["event"] == "run" && events.dropFirst().first?["id"] != nil, "then the run's id")
        events.removeFirst(min(2, events.count))
        #expect(events.count == 20)
        #expect(events.allSatisfy { $0["time"] != nil && $0["action"] != nil })
        #expect(events.filter { $0["event"] == "finished" }.allSatisfy { $0["status"] == "succeeded" })
        #expect(!json.stdout.contains("TOKEN-"))
    }

    @Test("scale down and destroy: machines drained and removed, then the recorded state")
    func destroy() async throws {
        let bed = try Bed(members: 2)
        defer { bed.remove() }
        #expect(try await bed.apply().status == 0)
        try bed.write(members: 1)
        let shrunk = try await bed.apply()
        #expect(shrunk.status == 0, "\(shrunk.stderr)")
        #expect(bed.files.deletions() == ["t-c-members-2": 1])
        #expect(bed.files.commands(on: "t-c-leaders-1").contains("toy-drain t-c-members-2"))
        let destroyed = try await bed.photon(["destroy", "-f", bed.blueprint.path, "--yes"])
        #expect(destroyed.status == 0, "\(destroyed.stderr)")
        #expect(bed.files.deletions().keys.sorted() == ["t-c-leaders-1", "t-c-members-1", "t-c-members-2"])
        #expect(!FileManager.default.fileExists(atPath: bed.state.path))
        let status = try await bed.photon(["status", "-f", bed.blueprint.path])
        #expect(status.status == 1)
        #expect(status.stderr.contains("has no recorded state"))
    }

    @Test("a corrupted state file is a clear error and is left as it was")
    func corruptedState() async throws {
        let bed = try Bed(members: 1)
        defer { bed.remove() }
        #expect(try await bed.apply().status == 0)
        let database = bed.state.appendingPathComponent("state.sqlite")
        var bytes = try Data(contentsOf: database)
        bytes.replaceSubrange(100..<4000, with: Data(repeating: 0x5A, count: 3900))
        try bytes.write(to: database)
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: database.path + suffix) }
        let before = try Data(contentsOf: database)
        let result = try await bed.apply()
        #expect(result.status == 1)
        #expect(result.stderr.contains(database.lastPathComponent))
        #expect(try Data(contentsOf: database) == before)
    }
}
