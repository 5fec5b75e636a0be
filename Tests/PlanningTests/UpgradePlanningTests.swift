import Blueprints
import Foundation
import Kinds
import PhotonCore
import Planning
import Testing

@Suite("Upgrades in plans")
struct UpgradePlanningTests {
    static let kindYAML = """
        kind: ver
        settings:
          version: {type: version, default: 1.2.3, upgrade: {downgrade: false, minorSteps: 1}}
          level: {type: int, default: 1}
        roles:
          - name: nodes
            count: {min: 1, default: 2}
            configure:
              - upload: stamp
                path: /etc/stamp
              - upload: conf
                path: /etc/conf
              - name: upgrade
                when: machine.existing
                reads: [stamp]
                run: [upgrade-now, "{{settings.version}}"]
              - name: refresh
                run: [refresh]
              - service: d
                action: restart
                reads: [conf]
                exec: [d]
        """

    static func plan(settings: String, recorded: RecordedState) throws -> Plan {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("photon-upgrade-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("ver"), withIntermediateDirectories: true)
        try Data(kindYAML.utf8).write(to: root.appendingPathComponent("ver/kind.yaml"))
        try Data("{{settings.version}}\n".utf8).write(to: root.appendingPathComponent("ver/stamp.mustache"))
        try Data("level={{settings.level}}\n".utf8).write(to: root.appendingPathComponent("ver/conf.mustache"))
        let catalog = try KindCatalog.load(directory: root.path)
        let blueprint = try BlueprintLoader(environment: LoadEnvironment(variables: [:], baseDirectory: "/tmp", directoryExists: { _ in true }))
            .load(
                bytes: Array(
                    """
                    name: p
                    controlPlane: {driver: local, network: 10.215.0.0/24}
                    clusters:
                      - name: c
                        kind: ver
                        roles: {nodes: 2}
                        settings: \(settings)
                    """.utf8), file: "bp.yaml")
        return try Planner(catalog: catalog, secrets: SecretSource(environment: [:]), photonVersion: "test").plan(blueprint, recorded: recorded)
    }

    /// What an apply of `plan` would leave recorded: its machines ready with its files, and the version applied.
    static func recorded(after plan: Plan, version: String) -> RecordedState {
        let machines = plan.machines.map { machine in
            var files: [String: RecordedFile] = [:]
            for index in machine.actions {
                if case .upload(let file) = plan.actions[index].detail { files[file.path] = RecordedFile(sha256: file.sha256 ?? "", mode: file.mode) }
            }
            return RecordedMachine(
                name: machine.name, group: machine.group, kind: "ver", role: machine.role, index: machine.index, address: machine.address ?? "",
                files: files)
        }
        return RecordedState(serial: 1, machines: machines, generatedSecrets: [Resolver.appliedVersionKey(group: "c", setting: "version"): version])
    }

    static func labels(_ plan: Plan, on machine: String) -> [String] {
        (plan.machines.first { $0.name == machine }?.actions ?? []).map { plan.actions[$0].summary }
    }

    @Test("a command that reads a file runs on a running machine only when that file changed, and never on a new one")
    func commandsThatRead() throws {
        let first = try Self.plan(settings: "{}", recorded: .empty)
        #expect(!Self.labels(first, on: "p-c-nodes-1").contains { $0.hasPrefix("upgrade:") })
        let recorded = Self.recorded(after: first, version: "1.2.3")

        let upgraded = try Self.plan(settings: "{version: 1.2.4}", recorded: recorded)
        let steps = Self.labels(upgraded, on: "p-c-nodes-2")
        #expect(steps.contains("upgrade: run upgrade-now 1.2.4") && steps.contains("refresh: run refresh"), "\(steps)")
        #expect(!steps.contains { $0.contains("service d") }, "the service reads conf, which did not change: \(steps)")

        let tuned = Self.labels(try Self.plan(settings: "{level: 2}", recorded: recorded), on: "p-c-nodes-1")
        #expect(!tuned.contains { $0.hasPrefix("upgrade:") } && tuned.contains("service d restart"), "\(tuned)")
    }

    @Test("a version lower than the one last applied, or over more minors than the kind allows, is refused where the blueprint sets it")
    func versionRules() throws {
        let recorded = Self.recorded(after: try Self.plan(settings: "{}", recorded: .empty), version: "1.2.3")
        func problems(_ version: String, _ state: RecordedState = recorded) -> [String] {
            do {
                _ = try Self.plan(settings: "{version: \(version)}", recorded: state)
                return []
            } catch let error as DiagnosticsError {
                return error.diagnostics.map { "\($0.location.map { "\($0.line):\($0.column)" } ?? "-") \($0.message)" }
            } catch {
                return ["\(error)"]
            }
        }
        #expect(
            problems("1.2.2") == [
                "7:25 settings.version 1.2.2 is lower than 1.2.3, which the cluster was last applied with: ver does not go back to an older version"
            ])
        #expect(problems("1.4.0") == ["7:25 settings.version 1.4.0 is more than 1 minor version above 1.2.3: ver upgrades 1 minor at a time"])
        #expect(problems("1.3.9") == [] && problems("1.2.3") == [])
        // A cluster made again from nothing (no machine recorded) starts at any version.
        var empty = recorded
        empty.machines = []
        #expect(problems("1.0.0", empty) == [])
    }
}
