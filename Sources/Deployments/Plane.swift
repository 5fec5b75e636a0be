import Blueprints
import Engine
import Etcd
import Foundation
import Kinds
import PKI
import PhotonCore
import PlaneAPI
import Planning
import StateStore

/// The files the installer gives the management plane, as artifacts of the management kind: one TLS
/// pair for every API server (`<state>/plane/tls.crt`, `tls.key`), the key that seals the state's
/// secrets, and the deployment's SSH key.
package enum PlaneFiles {
    package static func directory(_ stateDirectory: String) -> String { stateDirectory + "/plane" }

    package static func artifacts(blueprint: Blueprint, stateDirectory: String) -> [String: String] {
        // Inside the plane none: the plane never plans its own machines, and kinds it is sent (by any
        // holder of the API token) must not be able to copy its keys onto a machine.
        guard blueprint.management != nil, PlaneEnvironment.current == nil else { return [:] }
        return [
            "plane-certificate": directory(stateDirectory) + "/tls.crt", "plane-key": directory(stateDirectory) + "/tls.key",
            "state-key": stateDirectory + "/secrets.key", "ssh-key": sshKeyPath(blueprint: blueprint, stateDirectory: stateDirectory),
        ]
    }

    package static func sshKeyPath(blueprint: Blueprint, stateDirectory: String) -> String {
        if case .file(let path)? = blueprint.ssh.key?.value {
            let expanded = path.hasPrefix("~/") ? NSHomeDirectory() + path.dropFirst(1) : path
            return expanded.hasPrefix("/") ? expanded : URL(fileURLWithPath: blueprint.file).deletingLastPathComponent().appendingPathComponent(expanded).path
        }
        return stateDirectory + "/id_ed25519"
    }

    /// Makes what is missing: the TLS pair, the sealing key, the deployment's SSH key.
    package static func prepare(blueprint: Blueprint, state: OpenedState) throws {
        if case .environment? = blueprint.ssh.key?.value {
            throw PhotonError(
                "a management plane needs the SSH key as a file, and ssh.key names an environment variable",
                help: "use ssh.key: file:PATH (or leave it out for a key photon makes) in a blueprint with a management section")
        }
        let directory = directory(state.directory)
        _ = try ServerIdentity.readOrGenerate(certificate: directory + "/tls.crt", key: directory + "/tls.key", commonName: "photon-\(blueprint.name.value)")
        if let sqlite = state.store as? SQLiteStateStore { try sqlite.ensureSecretsKey() }
        _ = try ClientKey.credentials(for: blueprint, stateDirectory: state.directory)
    }
}

/// The management plane as the installer sees it: after the management machines are up, what is
/// needed to reach them (from the resolved management group and the recorded machines).
package struct PlaneFacts {
    package var addresses: [String]
    package var apiPort: Int
    package var proxyPort: Int?
    package var token: String
    /// The plane's etcd certificate authority, as recorded (with its key: the installer signs its own client certificates).
    package var etcdAuthority: IssuedCertificate?

    package var etcdEndpoints: [String] { addresses.map { "https://\($0):2379" } }

    /// A client of the plane's etcd with a client certificate the installer signs for this command only
    /// (valid for a day: nothing of it is kept).
    package func etcdClient() throws -> EtcdClient {
        guard let etcdAuthority else {
            throw PhotonError("the management plane's certificate authority is not in the recorded state", help: "apply the blueprint again")
        }
        let client = try CertificateAuthority(etcdAuthority).issue(
            CertificateRequest(commonName: "photon-installer", names: [], usages: [.client]),
            validity: 86400)
        return try EtcdClient(
            endpoints: etcdEndpoints,
            tls: EtcdTLS(
                authorityPEM: etcdAuthority.certificatePEM, certificatePEM: client.certificatePEM,
                privateKeyPEM: client.privateKeyPEM))
    }
    /// HAProxy on each machine first (when it runs), then each API server directly.
    package var apiEndpoints: [String] {
        (proxyPort.map { port in addresses.map { "https://\($0):\(port)" } } ?? []) + addresses.map { "https://\($0):\(apiPort)" }
    }

    package static func read(runner: Runner) async throws -> PlaneFacts {
        var target = runner.blueprint
        target.clusters = []
        let recorded = try await runner.store.recordedState()
        // Only the secrets' source: a planner would hash photon's executable for nothing.
        let resolved = try Resolver(catalog: runner.workspace.catalog, secrets: runner.workspace.secrets(for: target), recorded: recorded).resolve(target)
        guard let group = resolved.groups.first(where: { $0.isManagement }) else {
            throw PhotonError("the blueprint \(runner.blueprintPath) has no management section")
        }
        func text(_ name: String) -> String? {
            switch group.settings[name] {
            case .text(let value)?, .sensitive(let value)?: value
            default: nil
            }
        }
        guard let token = text("apiToken"), let apiPort = text("apiPort").flatMap(Int.init) else {
            throw PhotonError("the management plane's token or API port is not known yet", help: "apply the blueprint again")
        }
        let machines = recorded.machines.filter { $0.group == KindCatalog.managementKind && $0.lifecycle == .ready }.sorted { $0.index < $1.index }
        guard !machines.isEmpty else { throw PhotonError("the management plane has no ready machine", help: "apply the blueprint again") }
        let proxyPort = group.services["haproxy"] == true ? text("proxyPort").flatMap(Int.init) : nil
        let authority = recorded.generatedSecrets[PlaneFacts.authorityKey].flatMap(IssuedCertificate.init(recorded:))
        return PlaneFacts(addresses: machines.map(\.address), apiPort: apiPort, proxyPort: proxyPort, token: token, etcdAuthority: authority)
    }

    /// Where the recorded state keeps the plane's etcd authority (the management kind's `etcdCA`).
    package static let authorityKey = "\(KindCatalog.managementKind)/certificates.etcdCA"
}

/// `photon apply|scale|destroy|status|plan` of a deployment with a management plane, from the installer.
package enum PlaneInstaller {
    /// The installer's part of every apply: the management plane itself (made, or repaired and kept as
    /// it should be), the agent the plane makes machines through, and on the first apply the hand-over.
    /// Returns the context to send the blueprint to the plane with.
    package static func preparePlane(_ runner: Runner) async throws -> PlaneContext {
        Output.error("The management plane of \(runner.blueprint.name.value), from this installer:")
        try await runner.execute(saved: nil, goal: .applyManagement)
        let facts = try await PlaneFacts.read(runner: runner)
        var context = try PlaneContext.load(stateDirectory: runner.stateDirectory)
        let agent = try await AgentProcess.ensureRunning(runner: runner, known: context?.agent)
        // The blueprint's env: and file: secrets, as this installer reads them now: the plane reads none itself.
        try await PlaneSecrets.resolve(runner.blueprint, catalog: runner.workspace.catalog).store(in: try await planeStore(runner, facts: facts))
        if context == nil {
            context = try await handOver(runner, facts: facts, agent: agent)
            Output.error("Handed the state of \(runner.blueprint.name.value) over to its management plane; from now on photon talks to it (--local to bypass).")
        } else if let agent, context?.agent?.url != agent.agent.url || context?.agent?.pid != agent.agent.pid {
            context?.agent = agent.agent
            try context?.save(stateDirectory: runner.stateDirectory)
            try await storeAgent(agent, facts: facts, runner: runner)
        }
        return context!
    }

    /// Copies the installer's recorded state into the plane's etcd, checks the copy, gives the plane
    /// the agent and the workspace, and writes the context file (last: until then nothing talks to the plane).
    package static func handOver(_ runner: Runner, facts: PlaneFacts, agent: AgentProcess.Running?) async throws -> PlaneContext {
        // The installer's state does not change while it is copied.
        let lock = try await runner.store.acquireLock(command: "hand-over \(runner.blueprintPath)")
        do {
            let context = try await copyState(runner, facts: facts, agent: agent)
            _ = try? await runner.store.releaseLock(lock.id)
            return context
        } catch {
            _ = try? await runner.store.releaseLock(lock.id)
            throw error
        }
    }

    private static func copyState(_ runner: Runner, facts: PlaneFacts, agent: AgentProcess.Running?) async throws -> PlaneContext {
        let plane = try await planeStore(runner, facts: facts)
        try await plane.importState(from: runner.store)
        let copied = try await plane.recordedState()
        let original = try await runner.store.recordedState()
        guard copied.machines == original.machines, copied.captured == original.captured, copied.generatedSecrets == original.generatedSecrets,
            copied.scaledCounts == original.scaledCounts, copied.serial == original.serial
        else {
            throw PhotonError(
                "the copy of the state in the management plane's etcd differs from the installer's; nothing was handed over",
                help: "apply again; the installer's state is unchanged")
        }
        if let agent { try await storeAgent(agent, facts: facts, runner: runner) }
        try await PlaneRecords.setWorkspace(
            try workspace(runner), etcd: plane.etcd, prefix: plane.prefix,
            authenticator: try RecordAuthenticator(stateDirectory: runner.stateDirectory))
        let certificate = try PinnedCertificate(
            certificatePEM: String(contentsOfFile: PlaneFiles.directory(runner.stateDirectory) + "/tls.crt", encoding: .utf8))
        let context = PlaneContext(
            deployment: runner.blueprint.name.value, endpoints: facts.apiEndpoints, certificatePEM: certificate.certificatePEM,
            fingerprint: certificate.fingerprint, token: facts.token, agent: agent?.agent)
        _ = try await context.connect()
        try context.save(stateDirectory: runner.stateDirectory)
        return context
    }

    /// The deployment's records in the plane's etcd, sealed with the installer's key (the plane has a copy).
    package static func planeStore(_ runner: Runner, facts: PlaneFacts) async throws -> EtcdStateStore {
        try await EtcdStateStore(
            etcd: facts.etcdClient(), prefix: "/photon/\(runner.blueprint.name.value)/",
            deployment: runner.blueprint.name.value, keyDirectory: runner.stateDirectory)
    }

    package static func storeAgent(_ agent: AgentProcess.Running, facts: PlaneFacts, runner: Runner) async throws {
        let endpoint = AgentEndpoint(url: agent.agent.url, certificatePEM: agent.certificatePEM, token: agent.token)
        try await planeStore(runner, facts: facts).putSealed("agent", String(decoding: try JSONEncoder().encode(endpoint), as: UTF8.self))
    }

    /// The blueprint and every kind, as the plane receives them.
    package static func workspace(_ runner: Runner) throws -> BlueprintBundle {
        try workspace(path: runner.blueprintPath, kinds: runner.workspace.directory)
    }

    package static func workspace(path: String, kinds: String) throws -> BlueprintBundle {
        guard let data = FileManager.default.contents(atPath: path) else { throw PhotonError("cannot read \(path)") }
        return BlueprintBundle(
            blueprintFile: (path as NSString).lastPathComponent, blueprint: String(decoding: data, as: UTF8.self),
            kinds: try BlueprintBundle.kindFiles(in: kinds))
    }
}

/// Talking to the plane: operations sent, their events shown as a local run shows its own.
package struct PlaneSession {
    package let context: PlaneContext
    package let format: OutputFormat
    /// False when the plan was already shown (before asking).
    package var showsPlan = true
    /// When another operation holds the deployment: follow it to its end, then send again (false: `--no-wait`).
    package var waitsForBusy = true
    /// The installer's blueprint and state folder, for the ssh lines of `access` events.
    package var access: (blueprint: Blueprint, stateDirectory: String)?
    private let reach = Locked<[AccessEntry]>([])

    package init(context: PlaneContext, format: OutputFormat, waitsForBusy: Bool = true) {
        self.context = context
        self.format = format
        self.waitsForBusy = waitsForBusy
    }

    package func apply(_ workspace: BlueprintBundle) async throws {
        try await operation(.POST, "/v1/deployment/apply", body: try JSONEncoder().encode(ApplyRequest(workspace: workspace)))
    }

    package func scale(cluster: String, counts: [String: Int], force: Bool) async throws {
        try await operation(.POST, "/v1/clusters/\(cluster)/scale", body: try JSONEncoder().encode(ScaleRequest(counts: counts, force: force ? true : nil)))
    }

    /// What the plane would do, from its own state.
    package func plan(_ request: PlanRequest) async throws -> PlanBody {
        let client = try await context.connect()
        let (status, data) = try await client.send(.POST, "/v1/deployment/plan", body: try JSONEncoder().encode(request), timeout: .seconds(300))
        guard status == 200, let body = try? JSONDecoder().decode(PlanBody.self, from: data) else { throw Self.apiError(status, data, "/v1/deployment/plan") }
        return body
    }

    package func destroyClusters(_ names: [String]?) async throws {
        if let names {
            for name in names { try await operation(.DELETE, "/v1/clusters/\(name)", body: nil) }
        } else {
            try await operation(.DELETE, "/v1/clusters", body: nil)
        }
    }

    /// Sends the request, then follows the operation's events to its end; exits as the operation did.
    /// When another operation holds the deployment (a CLI killed mid-apply leaves its operation
    /// running on the plane), follows that one to its end first and then sends the request again,
    /// unless `waitsForBusy` is off (`--no-wait`): then the plane's 409 is the answer.
    package func operation(_ method: HTTPMethodName, _ path: String, body: Data?) async throws {
        let client = try await context.connect()
        var accepted: AcceptedBody?
        for _ in 0..<Self.busyRounds {
            let (status, data) = try await client.send(method, path, body: body)
            if status == 202, let body = try? JSONDecoder().decode(AcceptedBody.self, from: data) {
                accepted = body
                break
            }
            guard status == 409, waitsForBusy, let busy = try? JSONDecoder().decode(APIErrorBody.self, from: data), let holder = busy.operation,
                !holder.isEmpty, holder.utf8.allSatisfy({ (0x30...0x39).contains($0) })  // it lands in a URL path
            else { throw Self.apiError(status, data, path) }
            Output.error(
                "Waiting: \(TerminalText.visible(busy.error)). Following operation \(holder) to its end first "
                    + "(Ctrl-C stops following, not the operation; --no-wait fails at once instead).")
            let ended = try await follow("/v1/operations/\(holder)/events", client: client, showing: false)
            Output.error(
                "Operation \(holder) ended (\(ended.map { $0 == 0 ? "succeeded" : "exit status \($0)" } ?? "its end was not seen")); sending \(method.rawValue) \(path) again."
            )
        }
        guard let accepted else {
            throw PhotonError(
                "the deployment stayed busy with other operations through \(Self.busyRounds) rounds of waiting",
                help: "see what holds it with 'photon status', or pass --no-wait to fail at once")
        }
        Output.error("The management plane accepted operation \(accepted.operation); following it (Ctrl-C stops following, not the operation).")
        let outcome = try await follow(accepted.events, client: client, showing: true)
        if let access, format != .json {
            let lines = reach.withLock { $0 }.flatMap { $0.lines(blueprint: access.blueprint, stateDirectory: access.stateDirectory) }
            if !lines.isEmpty { Output.result((["", "Reach the clusters:"] + lines).joined(separator: "\n")) }
        }
        switch outcome {
        case 0?: return
        case 130?: throw OperationExit.interrupted
        default: throw OperationExit.failure
        }
    }

    /// Rounds of following a busy deployment's operation before giving up (each one another operation).
    package static let busyRounds = 20

    /// Follows an operation's events to its exit event and returns its status (nil: the stream never
    /// showed it). A stream cut (the server died, the leader moved) is picked up again from the next
    /// event, by any server. `showing` false leaves out the other operation's plan and reach lines.
    package func follow(_ events: String, client: PinnedClient, showing: Bool) async throws -> Int32? {
        var outcome: Int32?
        var from = 1
        for attempt in 0..<60 {
            do {
                let streamClient = attempt == 0 ? client : try await context.connect()
                var streamStatus = 0
                for try await line in try await streamClient.lines(events + "?from=\(from)", status: &streamStatus) {
                    guard line.hasPrefix("{") else { continue }
                    from += 1
                    guard let event = RunEventLine.parse(line) else { continue }
                    if case .exit(let status, _) = event.event { outcome = status }
                    // Another operation's events are context on stderr, never results: not in the
                    // NDJSON on stdout, and without its plan and reach lines.
                    switch event.event {
                    case _ where showing: _ = render(event)
                    case .plan, .access, .exit: break
                    default: if format != .json { _ = render(event) }
                    }
                }
                if outcome != nil { break }
                if streamStatus == 404 { return nil }
            } catch {
                Output.error("lost the plane's event stream (\(error)); following it again")
            }
            try await Task.sleep(for: .seconds(1))
        }
        return outcome
    }

    /// Shows one event; returns the exit status when it is the last.
    package func render(_ line: RunEventLine) -> Int32? {
        if format == .json {
            Output.result(line.json)
            if case .exit(let status, _) = line.event { return status }
            return nil
        }
        // What the plane sends is shown, never obeyed: its control characters become visible.
        let visible = TerminalText.visible
        switch line.event {
        case .plan(let text, _): if showsPlan { Output.result(visible(text)) }
        case .run(let id): Output.error("run \(id) on the plane")
        case .started(let action, _, let attempt, let summary):
            Output.error("started  \(visible(action))\(attempt != 1 ? " (attempt \(attempt))" : ""): \(visible(summary))")
        case .retrying(let action, let attempt, let delay, let reason):
            Output.error("retry    \(visible(action)) (attempt \(attempt) in \(visible(delay))): \(visible(reason))")
        case .finished(let action, _, let status, let elapsed, let message):
            let word = status == "succeeded" ? "ok" : visible(status)
            Output.error(
                "\(word.padding(toLength: 8, withPad: " ", startingAt: 0)) \(visible(action)) (\(visible(elapsed)))\(message.map { ": " + visible($0) } ?? "")")
        case .blocked(let action, let by): Output.error("blocked  \(visible(action)): \(visible(by)) failed")
        case .log(let text): Output.error(visible(text))
        case .operation(let state, let node, let attempt):
            switch state {
            case "resumed": Output.error("the operation was resumed by \(visible(node)) (attempt \(attempt.map(String.init) ?? "")), the new leader")
            case "paused": Output.error("the operation paused: \(visible(node)) is no longer the leader; the next leader resumes it")
            default: break
            }
        case .access: if let entry = AccessEntry(event: line.event) { reach.withLock { $0.append(entry) } }
        case .exit(let status, _): return status
        case .other: break
        }
        return nil
    }

    package static func apiError(_ status: Int, _ data: Data, _ path: String) -> PhotonError {
        if let body = try? JSONDecoder().decode(APIErrorBody.self, from: data) {
            return PhotonError("the management plane refused \(path) (HTTP \(status)): \(body.error)", help: body.help)
        }
        return PhotonError("the management plane answered \(path) with HTTP \(status): \(String(decoding: data.prefix(300), as: UTF8.self))")
    }
}
