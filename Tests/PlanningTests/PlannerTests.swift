import Blueprints
import Foundation
import Kinds
import PhotonCore
import Planning
import Testing

/// The planner against the shipped kinds: what a new deployment, a no-op, a scale-up, a changed setting
/// and a scale-down produce, and the order the actions come in.
@Suite("Planner")
struct PlannerTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let catalog: KindCatalog = {
        do { return try KindCatalog.load(directory: repository.appendingPathComponent("templates").path) } catch { fatalError("\(error)") }
    }()

    static func blueprint(_ yaml: String) throws -> Blueprint {
        try BlueprintLoader(environment: LoadEnvironment(variables: [:], baseDirectory: "/tmp")).load(bytes: Array(yaml.utf8), file: "bp.yaml")
    }

    static func plan(_ yaml: String, recorded: RecordedState = .empty) throws -> Plan {
        let planner = Planner(
            catalog: catalog, secrets: SecretSource(environment: [:]),
            artifacts: ["photon": Artifact(path: "/usr/bin/photon", sha256: String(repeating: "ab", count: 32))],
            photonVersion: "test"
        ).pinningEveryBinary()
        return try planner.plan(blueprint(yaml), recorded: recorded)
    }

    static func swarm(managers: Int = 1, workers: Int = 2, settings: String = "", rollout: String = "") -> String {
        """
        name: d
        controlPlane: {driver: local, network: 10.213.0.0/24}
        clusters:
          - name: s
            kind: swarm
            roles: {managers: \(managers), workers: \(workers)}
        \(settings.isEmpty ? "" : "    settings: \(settings)")
        \(rollout.isEmpty ? "" : "    rollout: \(rollout)")
        """
    }

    /// What apply would have recorded after running `plan` completely.
    static func recorded(after plan: Plan, captured: [String: RecordedValue] = [:], serial: Int = 1) -> RecordedState {
        var machines: [RecordedMachine] = []
        for machine in plan.machines where machine.change != .delete {
            var files: [String: RecordedFile] = [:]
            for index in machine.actions {
                guard case .upload(let file) = plan.actions[index].detail, let sha = file.sha256 else { continue }
                files[file.path] = RecordedFile(sha256: sha, mode: file.mode, content: file.content.isSensitive ? nil : file.content.text)
            }
            let kind = plan.groups.first { $0.name == machine.group }?.kind ?? ""
            machines.append(
                RecordedMachine(
                    name: machine.name, group: machine.group, kind: kind, role: machine.role, index: machine.index,
                    address: machine.address ?? "", files: files))
        }
        return RecordedState(serial: serial, machines: machines, captured: captured)
    }

    static let swarmTokens = [
        "s/managerToken": RecordedValue(value: "SWMTKN-1-manager", secret: true),
        "s/workerToken": RecordedValue(value: "SWMTKN-1-worker", secret: true),
    ]

    func ids(_ plan: Plan, of machine: String) -> [String] {
        plan.machines.first { $0.name == machine }.map { $0.actions.map { plan.actions[$0].id } } ?? []
    }

    func dependsTransitively(_ plan: Plan, _ action: Int, on target: Int) -> Bool {
        var stack = [action], seen = Set<Int>()
        while let next = stack.popLast() {
            if next == target { return true }
            if seen.insert(next).inserted { stack.append(contentsOf: plan.actions[next].dependsOn) }
        }
        return false
    }

    func index(_ plan: Plan, _ id: String) throws -> Int {
        try #require(plan.actions.firstIndex { $0.id == id }, "no action \(id)")
    }

    @Test("a new deployment creates every machine with deterministic names and the lowest free addresses")
    func newDeployment() throws {
        let plan = try Self.plan(Self.swarm())
        #expect(plan.machines.map(\.name) == ["d-s-managers-1", "d-s-workers-1", "d-s-workers-2"])
        #expect(plan.machines.map(\.address) == ["10.213.0.2", "10.213.0.3", "10.213.0.4"])
        #expect(plan.machines.allSatisfy { $0.change == .create })
        #expect(plan.summary == PlanSummary(create: 3, update: 0, delete: 0, unchanged: 0, actions: 23))
        #expect(ids(plan, of: "d-s-managers-1").prefix(3) == ["d-s-managers-1/create-machine", "d-s-managers-1/configure/1", "d-s-managers-1/configure/2"])
        // Workers join with a token that only exists after the first manager ran: it goes in a request
        // file readable by root only, never on the command line.
        let join = try index(plan, "d-s-workers-1/join/1")
        guard case .upload(let request) = plan.actions[join].detail else {
            Issue.record("the join request is not an upload")
            return
        }
        #expect(request.content.isUnknown && request.mode == 0o600)
        #expect(dependsTransitively(plan, join, on: try index(plan, "d-s-managers-1/join/3")))
        #expect(dependsTransitively(plan, join, on: try index(plan, "gate/s/managers/ready")))
    }

    @Test("actions come in dependency order and ids are unique, for every shipped blueprint")
    func topologicalOrder() throws {
        for name in ["quickstart", "swarm-ha", "mesos", "kubernetes", "platform", "static"] {
            let text = try String(contentsOf: Self.repository.appendingPathComponent("blueprints/\(name).yaml"), encoding: .utf8)
            let plan = try Self.plan(text)
            #expect(Set(plan.actions.map(\.id)).count == plan.actions.count, "\(name): duplicate ids")
            for (index, action) in plan.actions.enumerated() {
                #expect(action.dependsOn.allSatisfy { $0 < index }, "\(name): \(action.id) depends on a later action")
            }
        }
    }

    @Test("applying the same blueprint again plans nothing")
    func noOp() throws {
        let first = try Self.plan(Self.swarm())
        let second = try Self.plan(Self.swarm(), recorded: Self.recorded(after: first, captured: Self.swarmTokens))
        #expect(!second.hasChanges)
        #expect(second.actions.allSatisfy { $0.type == .gate })
        #expect(second.summary.unchanged == 3)
        #expect(second.stateSerial == 1)
    }

    @Test("one more worker plans only that worker: create, configure, join with the recorded token, health")
    func scaleUpOneWorker() throws {
        let first = try Self.plan(Self.swarm(workers: 2))
        let plan = try Self.plan(Self.swarm(workers: 3), recorded: Self.recorded(after: first, captured: Self.swarmTokens))
        #expect(plan.summary.create == 1)
        #expect(plan.summary.unchanged == 3)
        #expect(plan.machines.first { $0.change == .create }?.name == "d-s-workers-3")
        #expect(plan.machines.first { $0.name == "d-s-workers-3" }?.address == "10.213.0.5")
        let machineActions = plan.actions.filter { $0.type != .gate }
        #expect(machineActions.allSatisfy { $0.machine == "d-s-workers-3" })
        #expect(
            machineActions.map(\.id) == [
                "d-s-workers-3/create-machine", "d-s-workers-3/configure/1", "d-s-workers-3/configure/2",
                "d-s-workers-3/configure/3", "d-s-workers-3/join/1", "d-s-workers-3/join/2", "d-s-workers-3/health/1",
            ])
        let request = try index(plan, "d-s-workers-3/join/1")
        guard case .upload(let file) = plan.actions[request].detail else {
            Issue.record("the join request is not an upload")
            return
        }
        #expect(!file.content.isUnknown && file.content.isSensitive)
        #expect(file.content.text.contains("\"JoinToken\": \"SWMTKN-1-worker\""))
        #expect(file.content.display == "(sensitive)")
        let join = try index(plan, "d-s-workers-3/join/2")
        guard case .command(let argv) = plan.actions[join].detail else {
            Issue.record("join is not a command")
            return
        }
        #expect(!argv.contains { $0.isUnknown || $0.isSensitive })
        #expect(!RenderedText.displayCommand(argv).contains("SWMTKN"))
        // The health check runs on the surviving first manager.
        #expect(plan.actions[try index(plan, "d-s-workers-3/health/1")].runsOn == "d-s-managers-1")
    }

    @Test("canaries guard a role that already runs, not one coming up for the first time")
    func canaries() throws {
        let fresh = try Self.plan(Self.swarm(workers: 4))
        #expect(!fresh.actions.contains { $0.id == "gate/s/workers/canaries" })
        let grown = try Self.plan(Self.swarm(workers: 5), recorded: Self.recorded(after: try Self.plan(Self.swarm(workers: 2)), captured: Self.swarmTokens))
        let gate = try index(grown, "gate/s/workers/canaries")
        #expect(grown.actions[gate].dependsOn == [try index(grown, "d-s-workers-3/health/1")])
        for worker in ["d-s-workers-4", "d-s-workers-5"] {
            #expect(grown.actions[try index(grown, "\(worker)/create-machine")].dependsOn.contains(gate))
        }
    }

    @Test("a changed setting re-uploads the file, restarts the service and re-checks health, but does not re-join")
    func changedSetting() throws {
        let first = try Self.plan(Self.swarm(workers: 1))
        let plan = try Self.plan(Self.swarm(workers: 1, settings: "{logMaxSize: 50m}"), recorded: Self.recorded(after: first, captured: Self.swarmTokens))
        #expect(plan.summary.update == 2)
        #expect(
            ids(plan, of: "d-s-managers-1") == [
                "d-s-managers-1/configure/1", "d-s-managers-1/configure/2", "d-s-managers-1/configure/3",
                "d-s-managers-1/health/1", "d-s-managers-1/health/2",
            ])
        let upload = try index(plan, "d-s-managers-1/configure/1")
        #expect(plan.actions[upload].change == .update)
        guard case .upload(let file) = plan.actions[upload].detail else {
            Issue.record("not an upload")
            return
        }
        #expect(file.previousSHA256 != nil)
        #expect(file.previousSHA256 != file.sha256)
        #expect(file.content.text.contains("\"max-size\": \"50m\""))
        #expect(
            LineDiff.unified(old: try #require(file.previousContent), new: file.content.text).contains(
                "+   \"log-opts\": {\"max-size\": \"50m\", \"max-file\": \"3\"},"))
    }

    @Test("a changed file restarts only the service that reads it")
    func changedFileRestartsItsServiceOnly() throws {
        func kubernetes(_ settings: String) -> String {
            """
            name: d
            controlPlane: {driver: local, network: 10.213.0.0/24}
            clusters:
              - name: k
                kind: kubernetes
                roles: {etcd: 1, controllers: 1, workers: 0}
                settings: {\(settings)}
            """
        }
        var recorded = RecordedState(generatedSecrets: ["k/settings.certificateKey": String(repeating: "c", count: 64)])
        // The certificates apply issues before planning.
        let resolved = try Resolver(catalog: Self.catalog, secrets: SecretSource(environment: [:]), recorded: recorded).resolve(Self.blueprint(kubernetes("")))
        let pending = try Planner(catalog: Self.catalog, photonVersion: "test").certificatesToIssue(resolved, recorded: recorded)
        recorded.generatedSecrets.merge(try PendingCertificate.issue(pending, recorded: recorded.generatedSecrets)) { _, new in new }
        let generated = recorded.generatedSecrets
        let first = try Self.plan(kubernetes(""), recorded: recorded)
        recorded = Self.recorded(
            after: first,
            captured: [
                "k/joinToken": RecordedValue(value: "t", secret: true),
                "k/caCertHash": RecordedValue(value: "sha256:x", secret: false),
            ])
        recorded.generatedSecrets = generated
        let plan = try Self.plan(kubernetes("pauseImage: registry.example/pause:3.9"), recorded: recorded)
        let details = plan.machines.first { $0.name == "d-k-controllers-1" }.map { $0.actions.map { plan.actions[$0].detail } } ?? []
        let services = details.compactMap { detail -> String? in
            if case .service(let name, _, _) = detail { return name }
            return nil
        }
        let uploads = details.compactMap { detail -> String? in
            if case .upload(let file) = detail { return file.source }
            return nil
        }
        #expect(uploads == ["containerd.toml"])
        #expect(services == ["containerd"], "kubelet reads nothing that changed")
        #expect(plan.machines.first { $0.name == "d-k-etcd-1" }?.change == .unchanged)
    }

    @Test("fewer workers: drain through a manager, leave, delete the highest-numbered")
    func scaleDownWorkers() throws {
        let first = try Self.plan(Self.swarm(workers: 3))
        let plan = try Self.plan(Self.swarm(workers: 1), recorded: Self.recorded(after: first, captured: Self.swarmTokens))
        #expect(plan.summary == PlanSummary(create: 0, update: 0, delete: 2, unchanged: 2, actions: 10))
        #expect(plan.machines.filter { $0.change == .delete }.map(\.name) == ["d-s-workers-3", "d-s-workers-2"])
        #expect(
            ids(plan, of: "d-s-workers-3") == [
                "d-s-workers-3/drain/1", "d-s-workers-3/drain/2", "d-s-workers-3/remove/1",
                "d-s-workers-3/remove/2", "d-s-workers-3/delete-machine",
            ])
        let drain = plan.actions[try index(plan, "d-s-workers-3/drain/1")]
        #expect(drain.runsOn == "d-s-managers-1")
        #expect(drain.change == .delete)
        #expect(drain.summary == "run on d-s-managers-1: docker node update --availability drain d-s-workers-3")
        #expect(plan.actions[try index(plan, "d-s-workers-3/remove/1")].runsOn == nil)
        // Workers are not a quorum role: both go at once.
        #expect(plan.actions[try index(plan, "d-s-workers-2/drain/1")].dependsOn.isEmpty)
        #expect(plan.groups[0].roles.map(\.previousCount) == [1, 3])
    }

    @Test("fewer managers: one at a time, through the surviving first manager")
    func scaleDownManagers() throws {
        let first = try Self.plan(Self.swarm(managers: 3, workers: 0))
        let plan = try Self.plan(Self.swarm(managers: 1, workers: 0), recorded: Self.recorded(after: first, captured: Self.swarmTokens))
        #expect(plan.machines.filter { $0.change == .delete }.map(\.name) == ["d-s-managers-3", "d-s-managers-2"])
        let secondDrain = plan.actions[try index(plan, "d-s-managers-2/drain/1")]
        #expect(secondDrain.dependsOn == [try index(plan, "d-s-managers-3/delete-machine")])
        #expect(secondDrain.runsOn == "d-s-managers-1")
    }

    @Test("a cluster left out of the blueprint is deleted without draining, and still shown")
    func clusterRemoved() throws {
        let first = try Self.plan(Self.swarm(workers: 1))
        let plan = try Self.plan(
            "name: d\ncontrolPlane: {driver: local, network: 10.213.0.0/24}\n",
            recorded: Self.recorded(after: first, captured: Self.swarmTokens))
        #expect(plan.summary.delete == 2)
        #expect(plan.actions.allSatisfy { $0.type == .deleteMachine })
        #expect(plan.groups.map(\.name) == ["s"])
        #expect(plan.groups.first?.kind == "swarm")
    }

    @Test("a token whose capture was never recorded is captured again before the new worker joins")
    func missingCapture() throws {
        let first = try Self.plan(Self.swarm(workers: 1))
        let plan = try Self.plan(Self.swarm(workers: 2), recorded: Self.recorded(after: first, captured: [:]))
        let capture = try index(plan, "d-s-managers-1/join/3")
        #expect(plan.actions[capture].type == .capture)
        #expect(plan.actions[capture].change == .update)
        let join = try index(plan, "d-s-workers-2/join/1")
        #expect(plan.actions[join].dependsOn.contains(capture))
        #expect(capture < join)
    }

    @Test("recorded machines keep their addresses; new ones take the lowest free address")
    func addresses() throws {
        var recorded = RecordedState(serial: 3)
        recorded.machines = [
            RecordedMachine(name: "d-s-managers-1", group: "s", kind: "swarm", role: "managers", index: 1, address: "10.213.0.9"),
            RecordedMachine(name: "d-s-workers-1", group: "s", kind: "swarm", role: "workers", index: 1, address: "10.213.0.2"),
        ]
        recorded.captured = Self.swarmTokens
        let plan = try Self.plan(Self.swarm(workers: 3), recorded: recorded)
        #expect(plan.machines.map(\.address) == ["10.213.0.9", "10.213.0.2", "10.213.0.3", "10.213.0.4"])
        #expect(plan.stateSerial == 3)
    }

    @Test("the static driver hands out the listed machines in order")
    func staticDriver() throws {
        let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBeYNFF9eZCmkcjs3ORY+c6hwxgRDZpSczBeqYJWtl6o"
        let plan = try Self.plan(
            """
            name: d
            controlPlane:
              driver: static
              machines:
                - {address: 192.0.2.10, hostKey: "\(key)"}
                - {address: 192.0.2.11, hostKey: "\(key)"}
                - {address: 192.0.2.12, hostKey: "\(key)"}
            clusters:
              - {name: s, kind: swarm, roles: {managers: 1, workers: 2}}
            """)
        #expect(plan.driver == "static")
        #expect(plan.machines.map(\.address) == ["192.0.2.10", "192.0.2.11", "192.0.2.12"])
    }

    @Test("cluster machines wait for the management plane")
    func managementFirst() throws {
        let plan = try Self.plan(
            """
            name: p
            controlPlane: {driver: local, network: 10.220.0.0/24}
            management: {machines: 3}
            clusters:
              - {name: s, kind: swarm, roles: {managers: 1}}
            """)
        let gate = try index(plan, "gate/management/ready")
        #expect(plan.actions[try index(plan, "p-s-managers-1/create-machine")].dependsOn == [gate])
        for machine in 1...3 {
            #expect(dependsTransitively(plan, gate, on: try index(plan, "p-management-plane-\(machine)/create-machine")))
        }
        // photon's own executable is an artifact with the digest it was given.
        let artifact = try #require(plan.actions.first { if case .upload(let file) = $0.detail { return file.isArtifact } else { return false } })
        guard case .upload(let file) = artifact.detail else { return }
        #expect(file.sha256 == String(repeating: "ab", count: 32))
        #expect(file.path == "/usr/local/bin/photon")
    }

    @Test("a generated secret is known after apply until it is recorded, then sensitive")
    func generatedSecrets() throws {
        let yaml = """
            name: p
            controlPlane: {driver: local, network: 10.220.0.0/24}
            secrets: {token: generate}
            management: {machines: 1, settings: {apiToken: "secret:token"}}
            """
        let plan = try Self.plan(yaml)
        let tokenFile = try #require(
            plan.actions.first { if case .upload(let file) = $0.detail { return file.path == "/etc/photon/api-token" } else { return false } })
        guard case .upload(let before) = tokenFile.detail else { return }
        #expect(before.sha256 == nil)
        var recorded = RecordedState()
        recorded.generatedSecrets = ["secrets.token": "generated-value"]
        let again = try Self.plan(yaml, recorded: recorded)
        let known = try #require(
            again.actions.first { if case .upload(let file) = $0.detail { return file.path == "/etc/photon/api-token" } else { return false } })
        guard case .upload(let after) = known.detail else { return }
        #expect(after.sha256 == ContentDigest.sha256("generated-value\n") || after.sha256 == ContentDigest.sha256("generated-value"))
        #expect(after.content.isSensitive)
    }

    @Test("a service step uses systemd, else supervises its exec command, else falls back to an init script")
    func serviceScript() {
        let script = ServiceScript.script(name: "zookeeper", action: .restart, exec: ["/usr/share/zookeeper/bin/zkServer.sh", "start-foreground"])
        #expect(script.hasPrefix("if [ -d /run/systemd/system ] && systemctl cat zookeeper >/dev/null 2>&1; then systemctl restart zookeeper; else "))
        #expect(!script.contains("/etc/init.d"), "a declared command comes before distribution init scripts")
        #expect(
            script.contains("while :; do /usr/share/zookeeper/bin/zkServer.sh start-foreground & c=$!; wait $c;"), "supervised: started again when it exits")
        #expect(script.contains("/run/photon/zookeeper.pid"))
        let noExec = ServiceScript.script(name: "docker", action: .start, exec: nil)
        #expect(noExec.contains("elif [ -x /etc/init.d/docker ]; then /etc/init.d/docker start;"))
        #expect(noExec.contains("no init system and no exec command for service docker"))
    }
}
