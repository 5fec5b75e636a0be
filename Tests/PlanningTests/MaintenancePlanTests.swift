import Blueprints
import Foundation
import Kinds
import PhotonCore
import Planning
import Testing

@Suite("Backup and restore plans")
struct MaintenancePlanTests {
    static let kindYAML = """
        kind: stored
        backup: {role: store, file: /var/lib/photon/backup/s.db, description: store snapshot}
        roles:
          - name: store
            count: {min: 1, odd: true, default: 3}
            join:
              - run: [join-store]
                unless: [joined]
            health:
              - wait: {port: "7000"}
            backup:
              - run: [save, "{{machine.hostname}}"]
              - run: [compress]
            restore:
              - run: [stop]
              - run: [load, "{{machine.hostname}}"]
              - run: [start]
          - name: clients
            count: {min: 0, default: 2}
            health:
              - wait: {port: "7001"}
        """

    static func planned(_ phase: Phase, lifecycle: MachineLifecycle = .ready) throws -> (Plan, MaintenanceTarget) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("photon-maintenance-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("stored"), withIntermediateDirectories: true)
        try Data(kindYAML.utf8).write(to: root.appendingPathComponent("stored/kind.yaml"))
        let catalog = try KindCatalog.load(directory: root.path)
        let blueprint = try BlueprintLoader(environment: LoadEnvironment(variables: [:], baseDirectory: "/tmp", directoryExists: { _ in true }))
            .load(
                bytes: Array(
                    """
                    name: p
                    controlPlane: {driver: local, network: 10.214.0.0/24}
                    clusters:
                      - name: s
                        kind: stored
                        roles: {store: 3, clients: 2}
                    """.utf8), file: "bp.yaml")
        let machines = [("store", 1), ("store", 2), ("store", 3), ("clients", 1), ("clients", 2)].enumerated().map { offset, entry in
            RecordedMachine(
                name: "p-s-\(entry.0)-\(entry.1)", group: "s", kind: "stored", role: entry.0, index: entry.1, address: "10.214.0.\(offset + 2)",
                lifecycle: offset == 1 ? lifecycle : .ready)
        }
        let recorded = RecordedState(serial: 7, machines: machines)
        let planner = Planner(catalog: catalog, secrets: SecretSource(environment: [:]), photonVersion: "test")
        let resolved = try Resolver(catalog: catalog, secrets: planner.secrets, recorded: recorded).resolve(blueprint)
        let (plan, _, target) = try planner.maintenancePlan(resolved, recorded: recorded, cluster: "s", phase: phase)
        return (plan, target)
    }

    @Test("a backup runs the backup steps on the first machine of the backup role, one after the other")
    func backup() throws {
        let (plan, target) = try Self.planned(.backup)
        #expect(plan.actions.map(\.summary) == ["run save p-s-store-1", "run compress"])
        #expect(plan.actions.map(\.machine) == ["p-s-store-1", "p-s-store-1"])
        #expect(plan.actions[0].dependsOn == [] && plan.actions[1].dependsOn == [0])
        #expect(target.machines.map(\.name) == ["p-s-store-1"] && target.backup.file == "/var/lib/photon/backup/s.db")
    }

    @Test("a restore runs each step on every store machine before the next, then every machine's health steps")
    func restore() throws {
        let (plan, target) = try Self.planned(.restore)
        #expect(target.machines.map(\.name) == ["p-s-store-1", "p-s-store-2", "p-s-store-3"])
        let actions = plan.actions
        func indices(_ text: String) -> [Int] { actions.indices.filter { actions[$0].summary == text } }
        let stops = indices("run stop"), starts = indices("run start")
        #expect(stops.count == 3 && starts.count == 3 && indices("run load p-s-store-2").count == 1)
        let gates = actions.indices.filter { actions[$0].type == .gate }
        #expect(gates.count == 3)
        // Every stop comes before the first gate; every load waits for it; every start waits for the second.
        #expect(stops.allSatisfy { actions[$0].dependsOn.isEmpty } && actions[gates[0]].dependsOn == stops)
        #expect(actions.indices.filter { actions[$0].summary.hasPrefix("run load") }.allSatisfy { actions[$0].dependsOn == [gates[0]] })
        #expect(starts.allSatisfy { actions[$0].dependsOn == [gates[1]] } && actions[gates[2]].dependsOn == starts)
        // Then the health steps of every machine of the cluster, clients included, after the last gate.
        let again = actions.indices.filter { $0 > gates[2] }
        #expect(Set(again.map { actions[$0].machine }) == ["p-s-store-1", "p-s-store-2", "p-s-store-3", "p-s-clients-1", "p-s-clients-2"])
        #expect(again.filter { actions[$0].dependsOn == [gates[2]] }.count == 5)
        #expect(!again.contains { actions[$0].summary == "run join-store" }, "join steps capture values a restore must not change")
        #expect(plan.machines.allSatisfy { $0.change == .update } && plan.groups.first?.roles.allSatisfy { $0.maxInFlight == "100%" } == true)
    }

    @Test("a machine that is not ready is refused, naming it and what to do")
    func notReady() throws {
        #expect {
            try Self.planned(.restore, lifecycle: .bringingUp)
        } throws: { error in
            let text = "\(error)"
            return text.contains("machine p-s-store-2 of cluster s is bringing-up, not ready") && text.contains("'photon apply' finishes it first")
        }
    }
}
