import ArgumentParser
import Blueprints
import Crypto
import Engine
import Foundation
import Kinds
import Planning
import PhotonCore
import PlaneAPI
import StateStore

/// Options of the commands that change machines.
struct RunOptions: ParsableArguments {
    @Flag(name: [.short, .customLong("yes")], help: "Do not ask for confirmation (required when not on a terminal).")
    var yes = false

    @Option(help: "Actions running at once across the deployment (default: the blueprint's ssh.parallelism).")
    var parallelism: Int?

    @Option(help: "Progress output: text (a live view on a terminal, lines otherwise) or json (NDJSON events on stdout).")
    var format: OutputFormat = .text

    @Flag(help: "Through a management plane: when another operation holds the deployment, fail at once (HTTP 409) instead of following it to its end and then going on.")
    var noWait = false

    func validate() throws {
        if format == .dot { throw ValidationError("progress is text or json") }
        if let parallelism, parallelism < 1 { throw ValidationError("--parallelism must be at least 1") }
    }
}

struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Make the machines match the blueprint, durably: an interrupted apply is finished by the next one.",
        discussion: """
        Shows the plan and asks before changing anything. 'photon apply PLAN.json' runs a plan saved by \
        'photon plan -o' exactly, and refuses it when the blueprint or the recorded state changed since. \
        Ctrl-C stops starting actions and lets running ones finish (exit 130); a second Ctrl-C aborts them.
        """
    )

    @Argument(help: ArgumentHelp("A plan saved with 'photon plan -o'.", valueName: "plan-file"))
    var planFile: String?

    @Option(name: [.short, .customLong("file")], help: ArgumentHelp("The blueprint to apply.", valueName: "file"))
    var file: String?

    @OptionGroup var kinds: TemplatesOption
    @OptionGroup var state: StateOptions
    @OptionGroup var run: RunOptions

    func validate() throws {
        if (planFile == nil) == (file == nil) { throw ValidationError("give either -f BLUEPRINT or a saved PLAN file") }
    }

    func run() async throws {
        var saved: SavedPlan?
        var blueprintPath = file ?? ""
        if let planFile {
            saved = try SavedPlan.read(planFile)
            blueprintPath = saved?.blueprintFile ?? ""
        }
        let runner = try await Runner(blueprintPath: blueprintPath, templates: kinds.templates, state: state, options: run, command: "apply")
        if runner.usesPlane {
            guard saved == nil else {
                throw PhotonError("a saved plan cannot be applied to a deployment with a management plane",
                                  help: "apply the blueprint (photon apply -f \(blueprintPath)), or the installer's own state with --local")
            }
            // The installer keeps the plane itself up; the plane applies the clusters.
            let context = try await PlaneInstaller.preparePlane(runner)
            let bundle = try PlaneInstaller.workspace(runner)
            var session = PlaneSession(context: context, format: run.format, waitsForBusy: !run.noWait)
            session.access = (runner.blueprint, runner.stateDirectory)
            if !run.yes {
                let plan = try await session.plan(PlanRequest(workspace: bundle, format: "text"))
                Output.result("Clusters (from the management plane):\n" + plan.plan)
                guard plan.exitStatus == 2 else {
                    if plan.exitStatus != 0 { Output.error(plan.errors); throw ExitCode.failure }
                    return
                }
                try runner.confirm("Apply this plan to \(runner.blueprint.name.value) through its management plane?")
                session.showsPlan = false
            }
            try await session.apply(bundle)
            return
        }
        try await runner.execute(saved: saved, goal: .apply)
    }
}

struct DestroyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "destroy",
        abstract: "Remove every machine of the deployment, then its recorded state.",
        discussion: "Shows what goes and asks first. An interrupted destroy is finished by the next one."
    )

    @OptionGroup var blueprint: BlueprintOptions
    @OptionGroup var state: StateOptions
    @OptionGroup var run: RunOptions

    @Option(name: .customLong("cluster"), help: ArgumentHelp("Destroy only this cluster (repeatable); the rest of the deployment stays.", valueName: "name"))
    var clusters: [String] = []

    @Flag(help: "Destroy every cluster and keep the management plane.")
    var keepManagement = false

    func run() async throws {
        let runner = try await Runner(blueprintPath: blueprint.file, templates: blueprint.templates, state: state, options: run, command: "destroy")
        if runner.usesPlane, let context = try PlaneContext.load(stateDirectory: runner.stateDirectory) {
            let session = PlaneSession(context: context, format: run.format, waitsForBusy: !run.noWait)
            let everything = clusters.isEmpty && !keepManagement
            try runner.confirm(everything ? "Destroy every cluster of \(runner.blueprint.name.value), then its management plane?"
                                          : "Destroy \(clusters.isEmpty ? "every cluster" : clusters.joined(separator: ", ")) of \(runner.blueprint.name.value) through its management plane?")
            try await session.destroyClusters(clusters.isEmpty ? nil : clusters)
            guard everything else { return }
            // The clusters are gone; the plane's machines are the installer's own to remove, with its agent.
            AgentProcess.stopAll(stateDirectory: runner.stateDirectory, known: context.agent)
            PlaneContext.remove(stateDirectory: runner.stateDirectory)
            try await runner.execute(saved: nil, goal: .destroy, confirmed: true)
            return
        }
        // The plane never removes itself: inside it, destroy means the clusters.
        let goal: Runner.Goal = !clusters.isEmpty ? .destroyClusters(clusters) : keepManagement || runner.state.inPlane ? .destroyClusters(nil) : .destroy
        // `--local` of a deployment with a plane: the installer's agent for it goes with the state.
        let agent = runner.state.inPlane ? nil : (try? PlaneContext.load(stateDirectory: runner.stateDirectory))?.agent
        try await runner.execute(saved: nil, goal: goal)
        if case .destroy = goal, !runner.state.inPlane, runner.blueprint.management != nil {
            AgentProcess.stopAll(stateDirectory: runner.stateDirectory, known: agent)
            PlaneContext.remove(stateDirectory: runner.stateDirectory)
        }
    }
}

/// The digest and serial a saved plan was made against, and what it planned.
struct SavedPlan {
    var blueprintFile: String
    var blueprintDigest: String
    var stateSerial: Int
    var actionIDs: [String]
    var fileDigests: [String: String]

    static func read(_ path: String) throws -> SavedPlan {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PhotonError("cannot read the plan file '\(path)'")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              object["formatVersion"] as? Int == Plan.formatVersion,
              let blueprint = object["blueprint"] as? [String: Any], let file = blueprint["file"] as? String, let digest = blueprint["digest"] as? String,
              let serial = object["stateSerial"] as? Int, let actions = object["actions"] as? [[String: Any]] else {
            throw PhotonError("'\(path)' is not a photon plan (format version \(Plan.formatVersion))", help: "make one with 'photon plan -f BLUEPRINT -o \(path)'")
        }
        var digests: [String: String] = [:]
        for action in actions {
            if let id = action["id"] as? String, let file = action["file"] as? [String: Any], let sha = file["sha256"] as? String { digests[id] = sha }
        }
        return SavedPlan(blueprintFile: file, blueprintDigest: String(digest.dropFirst("sha256:".count)), stateSerial: serial,
                         actionIDs: actions.compactMap { $0["id"] as? String }, fileDigests: digests)
    }

    /// Refuses a plan made against another blueprint or another recorded state, or that plans something else now.
    func check(against plan: Plan, serial: Int) throws {
        guard blueprintDigest == plan.blueprintDigest else {
            throw PhotonError("the saved plan was made from another version of \(blueprintFile) (sha256:\(blueprintDigest.prefix(12)), now sha256:\(plan.blueprintDigest.prefix(12)))",
                              help: "make a new plan with 'photon plan -f \(blueprintFile) -o PLAN'")
        }
        guard stateSerial == serial else {
            throw PhotonError("the saved plan is stale: it was made at state serial \(stateSerial), the recorded state is now at \(serial)",
                              help: "something was applied since; make a new plan with 'photon plan -f \(blueprintFile) -o PLAN'")
        }
        let digests = Dictionary(plan.actions.compactMap { action -> (String, String)? in
            if case .upload(let file) = action.detail, let sha = file.sha256 { return (action.id, sha) }
            return nil
        }, uniquingKeysWith: { a, _ in a })
        guard actionIDs == plan.actions.map(\.id), digests == fileDigests else {
            throw PhotonError("the saved plan no longer matches what this blueprint and state plan (the kinds or the photon version changed)",
                              help: "make a new plan with 'photon plan -f \(blueprintFile) -o PLAN'")
        }
    }
}

/// Everything apply and destroy share: the lock, generated secrets, the plan, the confirmation, the run.
struct Runner {
    /// What a run converges to.
    enum Goal: Equatable {
        /// The whole blueprint.
        case apply
        /// Only the management plane (the installer's part of a bootstrap); clusters are left as they are.
        case applyManagement
        /// No machine, then no recorded state.
        case destroy
        /// These clusters gone (nil: every cluster); the rest stays as recorded.
        case destroyClusters([String]?)

        var isDestroy: Bool {
            switch self {
            case .apply, .applyManagement: false
            case .destroy, .destroyClusters: true
            }
        }
    }

    /// Runs (with their journals and logs) kept in the recorded state.
    static let keptRuns = 100

    let blueprintPath: String
    let workspace: Workspace
    let blueprint: Blueprint
    let state: OpenedState
    let stateOptions: StateOptions
    var store: any DeploymentStore { state.store }
    var stateDirectory: String { state.directory }
    let options: RunOptions
    let command: String

    init(blueprintPath: String, templates: String?, state: StateOptions, options: RunOptions, command: String) async throws {
        self.blueprintPath = blueprintPath
        var workspace = try Workspace(templates: templates)
        try await workspace.receivePlaneSecrets()
        self.workspace = workspace
        blueprint = try workspace.loadBlueprint(blueprintPath)
        self.state = try await state.open(deployment: blueprint.name.value)
        stateOptions = state
        self.options = options
        self.command = command
    }

    /// Whether this command goes to the deployment's management plane: it has one, this photon is not
    /// inside it, and `--local` was not given (its context file decides once the plane exists).
    var usesPlane: Bool { blueprint.management != nil && !state.inPlane && !stateOptions.local }

    func execute(saved: SavedPlan?, goal: Goal, scaling: Scaling? = nil, confirmed: Bool = false) async throws {
        let lock = try await acquireLock()
        if let warning = lock.warning { Output.error("warning: \(warning)") }
        do {
            try await execute(saved: saved, goal: goal, scaling: scaling, lock: lock, confirmed: confirmed)
        } catch {
            _ = try? await store.releaseLock(lock.id)
            throw error
        }
        _ = try? await store.releaseLock(lock.id)
    }

    /// Takes the deployment's lock. In the management plane a run resumed by a new leader waits for the
    /// dead leader's lock to expire with its lease (at most its TTL) instead of failing.
    func acquireLock() async throws -> LockAcquisition {
        let deadline = ContinuousClock.now + (state.inPlane ? .seconds(45) : .zero)
        while true {
            do {
                return try await store.acquireLock(command: "\(command) \(blueprintPath)")
            } catch where error is PhotonError && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    func backendContext() async throws -> BackendContext {
        BackendContext(stateDirectory: stateDirectory, recordedHandles: try await store.machineHandles(), agent: state.agent)
    }

    private func execute(saved: SavedPlan?, goal: Goal, scaling: Scaling?, lock: LockAcquisition, confirmed: Bool) async throws {
        let destroy = goal.isDestroy
        // Machines photon made are simply deleted on destroy; the user's own machines (static) are first
        // reset by their roles' teardown steps, since they stay: their groups keep their roles, at count 0.
        var target = blueprint
        var retired: Set<String> = []
        let isStatic: Bool
        if case .static = blueprint.controlPlane { isStatic = true } else { isStatic = false }
        switch goal {
        case .apply:
            break
        case .applyManagement:
            target.clusters = []
        case .destroy:
            if isStatic {
                retired = Set(target.clusters.map(\.name.value) + (target.management == nil ? [] : ["management"]))
            } else {
                target.clusters = []
                target.management = nil
            }
        case .destroyClusters(let names):
            if let names {
                let known = Set(target.clusters.map(\.name.value))
                for name in names where !known.contains(name) {
                    throw PhotonError("the blueprint has no cluster '\(name)'", help: Suggestions.help(for: name, among: known.sorted(), noun: "cluster"))
                }
            }
            let doomed = Set(names ?? target.clusters.map(\.name.value))
            if isStatic { retired = doomed } else { target.clusters.removeAll { doomed.contains($0.name.value) } }
        }
        var recorded = try await store.recordedState()
        // The installer owns the management plane's machines and the plane owns the clusters: inside the
        // plane, its own machines are neither planned nor touched (a plane never restarts itself mid-run).
        if state.inPlane {
            target.management = nil
            recorded.setAside(group: KindCatalog.managementKind)
        } else if target.management != nil {
            try PlaneFiles.prepare(blueprint: blueprint, state: state)
        }
        let planner = workspace.planner(for: target, planeFiles: PlaneFiles.artifacts(blueprint: blueprint, stateDirectory: stateDirectory))
        func resolve() throws -> ResolvedDeployment {
            var resolved = try Resolver(catalog: workspace.catalog, secrets: planner.secrets, recorded: recorded).resolve(target)
            resolved.retireMachines(ofGroups: retired)
            return resolved
        }
        var resolved = try resolve()
        var newCounts: [ScaledCount] = []
        if let scaling {
            // The plan of the new counts, exactly as the merge will resolve them once recorded.
            newCounts = try scaling.scaledCounts(in: resolved)
            for count in newCounts { recorded.scaledCounts[count.key] = count }
            resolved = try resolve()
        }
        let fresh = try await generateSecrets(resolved.generatedSecretKeys, existing: recorded.generatedSecrets)
        if !fresh.isEmpty {
            // The new values are settings now: resolve again so the plan renders them (not "known after apply").
            recorded.generatedSecrets.merge(fresh) { _, new in new }
            recorded.serial = try await store.currentSerial()
            resolved = try resolve()
        }
        if !destroy {
            // Certificates the kinds declare, issued (or renewed) and recorded before planning, like generated secrets.
            let pending = try planner.certificatesToIssue(resolved, recorded: recorded)
            if !pending.isEmpty {
                let issued = try PendingCertificate.issue(pending, recorded: recorded.generatedSecrets)
                try await store.storeGeneratedSecrets(issued)
                for certificate in pending where certificate.reason != "new" && certificate.reason != "new authority" {
                    Output.error("renewing the certificate \(certificate.key): \(certificate.reason)")
                }
                recorded.generatedSecrets.merge(issued) { _, new in new }
                recorded.serial = try await store.currentSerial()
            }
            // Machines the control plane reports stopped (the host rebooted) are started and reconfigured;
            // running ones whose sshd alone died get it back, and are reconfigured too.
            let (stopped, deaf) = try await unhealthyMachines(recorded)
            for index in recorded.machines.indices {
                recorded.machines[index].stopped = stopped.contains(recorded.machines[index].name)
                recorded.machines[index].unanswered = deaf.contains(recorded.machines[index].name) ? [22] : []
            }
        }
        var (plan, renderer) = try planner.planForApply(resolved, recorded: recorded)
        if !destroy {
            // A machine with nothing to do whose health port does not answer (its service died with
            // its supervisor) is configured and checked again, like one that was stopped.
            let silent = await Self.unansweredHealthPorts(plan)
            if !silent.isEmpty {
                for index in recorded.machines.indices { recorded.machines[index].unanswered += silent[recorded.machines[index].name] ?? [] }
                (plan, renderer) = try planner.planForApply(resolved, recorded: recorded)
            }
        }
        if let saved { try saved.check(against: plan, serial: recorded.serial) }

        if options.format == .text {
            Output.result(PlanTextRenderer(color: Output.stdoutColor).render(plan))
        } else {
            // The plan as text rides along as the first event, so a client of the plane can show it.
            Output.result(JSONOutput.line(["event": "plan", "time": ProgressReporter.timestamp(), "text": PlanTextRenderer(color: false).render(plan),
                                           "changes": plan.hasChanges ? "true" : "false"]))
        }
        if scaling?.dryRun == true {
            Output.error("Dry run: nothing was changed.")
            return
        }
        guard plan.hasChanges else {
            if !newCounts.isEmpty { try await store.recordScaledCounts(newCounts) }
            try await finish(goal, resolved, recorded: recorded, printingAccess: false)
            return
        }
        // Before asking: a missing driver or transport is said at once, not after a "yes".
        let context = try await backendContext()
        let driver = try Backends.current.current.driver(blueprint, context)
        let shell = try Backends.current.current.shell(blueprint, context)
        let journal = Backends.current.current.journal(store)
        if !confirmed { try confirm(destroy ? "Destroy \(plan.summary.delete) machine(s) of \(blueprint.name.value)?" : "Apply this plan to \(blueprint.name.value)?") }
        // The new counts are recorded before anything runs: an interrupted scale is finished by the next apply.
        if !newCounts.isEmpty { try await store.recordScaledCounts(newCounts) }
        let runID = try await store.beginRun(command: command, blueprintDigest: blueprint.digest)
        if options.format == .json { Output.result(JSONOutput.line(["event": "run", "time": ProgressReporter.timestamp(), "id": String(runID)])) }
        let logDirectory = stateDirectory + "/runs"
        // The last 100 runs and their logs are kept; older ones go, so the state does not grow forever.
        for old in (try? await store.pruneRuns(keeping: Runner.keptRuns)) ?? [] { try? FileManager.default.removeItem(atPath: "\(logDirectory)/\(old).log") }
        try? FileManager.default.createDirectory(atPath: logDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let mode: ProgressReporter.Mode = options.format == .json ? .json : (Output.wantsColor(STDERR_FILENO) ? .live : .lines)
        let progress = ProgressReporter(plan: plan, mode: mode, logPath: "\(logDirectory)/\(runID).log")
        let engine = Engine(plan: plan, renderer: renderer, driver: driver, shell: shell, journal: journal,
                            options: EngineOptions(parallelism: options.parallelism ?? blueprint.ssh.parallelism))

        let stop = StopSignal()
        let task = Task { await engine.run(stop: stop) { progress.handle($0) } }
        let interrupts = InterruptHandler { [stop] in
            switch stop.request() {
            case .stopping: Output.error("stopping: running actions finish, nothing new starts (Ctrl-C again to abort them)")
            case .aborting:
                Output.error("aborting running actions")
                task.cancel()
            case .running: break
            }
        }
        let outcome = await task.value
        await shell.closeAll()
        interrupts.cancel()
        progress.finish()

        let status: RunStatus = switch outcome.status {
        case .succeeded: .succeeded
        case .failed: .failed
        case .interrupted: .interrupted
        }
        try await store.finishRun(runID, status: status, summary: summary(outcome))
        report(outcome, plan: plan)
        switch outcome.status {
        case .succeeded:
            try await finish(goal, resolved, recorded: recorded, printingAccess: options.format == .text || state.inPlane)
        case .failed:
            throw ExitCode.failure
        case .interrupted:
            throw ExitCode(130)
        }
    }

    /// After a converged run: what the goal leaves recorded.
    func finish(_ goal: Goal, _ resolved: ResolvedDeployment, recorded: RecordedState, printingAccess: Bool) async throws {
        switch goal {
        case .apply:
            try await finishApply(resolved, recorded: recorded)
            if printingAccess { try await printAccess(resolved) }
        case .applyManagement:
            if printingAccess { try await printAccess(resolved) }
        case .destroy:
            try await removeLeftoverMachines()
            try await removeState()
        case .destroyClusters:
            break
        }
    }

    /// Local machines of this deployment that the installer's state does not record (a management
    /// plane made them, and is gone or was bypassed with --local): destroy leaves none behind.
    func removeLeftoverMachines() async throws {
        guard case .local = blueprint.controlPlane, !state.inPlane else { return }
        let driver = try Backends.current.current.driver(blueprint, try await backendContext())
        for machine in try await driver.list() {
            Output.error("removing \(machine.name), a machine of \(blueprint.name.value) this installer's state did not record (its management plane made it)")
            try await driver.delete(name: machine.name)
        }
    }

    /// Ready machines the driver says are not running, and running ones whose SSH port does not answer
    /// (one connection attempt each, all at once). Only drivers that can tell without connecting, and
    /// repair, answer (the local one); for the others every machine is fine.
    func unhealthyMachines(_ recorded: RecordedState) async throws -> (stopped: Set<String>, deaf: Set<String>) {
        guard case .local = blueprint.controlPlane, recorded.machines.contains(where: { $0.lifecycle == .ready }) else { return ([], []) }
        let driver = try Backends.current.current.driver(blueprint, try await backendContext())
        var stopped = Set<String>()
        var running: [String: String] = [:]
        for machine in recorded.machines where machine.lifecycle == .ready {
            if await driver.isRunning(name: machine.name) == false { stopped.insert(machine.name) } else { running[machine.name] = machine.address }
        }
        return (stopped, await driver.deafMachines(running))
    }

    /// The health ports of the plan's unchanged machines that do not answer, by machine: one
    /// connection attempt to each, all at once, 500 ms at most.
    static func unansweredHealthPorts(_ plan: Plan) async -> [String: [Int]] {
        var targets: [(machine: String, address: IPv4Address, port: Int)] = []
        for machine in plan.machines where machine.change == .unchanged {
            for probe in machine.healthPorts {
                if let address = IPv4Address(probe.host) { targets.append((machine.name, address, probe.port)) }
            }
        }
        let probes = targets.map { (address: $0.address, port: $0.port) }
        guard !probes.isEmpty, let answers = try? await OwnThread.run({ PortProbe.accepting(probes, within: .milliseconds(500)) })
        else { return [:] }
        var silent: [String: [Int]] = [:]
        for (target, answered) in zip(targets, answers) where !answered { silent[target.machine, default: []].append(target.port) }
        return silent
    }

    /// After a converged apply: the blueprint becomes the last applied, and scaled counts the blueprint has
    /// overridden since (or whose cluster or role is gone) are forgotten.
    func finishApply(_ resolved: ResolvedDeployment, recorded: RecordedState) async throws {
        try await store.recordApplied(blueprint: try blueprintBytes(), digest: blueprint.digest)
        var inForce = Set<String>()
        for group in resolved.groups { for role in group.roles where role.countSource == .scaled { inForce.insert("\(group.name)/\(role.name)") } }
        try await store.forgetScaledCounts(recorded.scaledCounts.keys.filter { !inForce.contains($0) }.sorted())
    }

    /// How to reach each cluster: its kind's `access` command as an ssh line with photon's key and, for
    /// local machines, their pinned host keys.
    func printAccess(_ resolved: ResolvedDeployment) async throws {
        let entries = try await accessEntries(resolved)
        if options.format == .json {
            // Inside the plane: the client builds the lines with its own key and known hosts.
            for entry in entries { Output.result(JSONOutput.line(entry.event)) }
        } else if !entries.isEmpty {
            Output.result((["", "Reach the clusters:"] + entries.flatMap { $0.lines(blueprint: blueprint, stateDirectory: stateDirectory) }).joined(separator: "\n"))
        }
    }

    /// Where to reach each group: its kind's `access` command on the first machine of its access role.
    func accessEntries(_ resolved: ResolvedDeployment) async throws -> [AccessEntry] {
        let recorded = try await store.recordedState()
        var entries: [AccessEntry] = []
        for group in resolved.groups {
            guard let access = group.kind.access, let role = access.role ?? group.roles.first?.name,
                  let machine = recorded.machines.filter({ $0.group == group.name && $0.role == role }).min(by: { $0.index < $1.index }) else { continue }
            var user = blueprint.ssh.user
            var port = 22
            if case .local = blueprint.controlPlane { user = "root" }
            if case .static(let plane) = blueprint.controlPlane, let listed = plane.machines.first(where: { $0.address.value == machine.address }) {
                user = listed.user ?? user
                port = listed.port
            }
            entries.append(AccessEntry(title: "\(group.isManagement ? "management plane" : "cluster \(group.name)") (\(group.kind.name))", machine: machine.name,
                                       address: machine.address, user: user, port: port, command: access.command))
        }
        return entries
    }

    func blueprintBytes() throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: blueprintPath) else { throw PhotonError("cannot read \(blueprintPath)") }
        return Array(data)
    }

    /// Makes a value for each `generate` secret not recorded yet: 32 random bytes as 64 hex digits
    /// (what kubeadm's certificate key needs, and strong for any token).
    /// Returns the values it stored (the recorded state then has a new serial).
    func generateSecrets(_ keys: [String], existing: [String: String]) async throws -> [String: String] {
        var fresh: [String: String] = [:]
        for key in keys where existing[key] == nil {
            fresh[key] = SymmetricKey(size: .bits256).withUnsafeBytes { bytes in bytes.map { String(format: "%02x", $0) }.joined() }
        }
        if !fresh.isEmpty { try await store.storeGeneratedSecrets(fresh) }
        return fresh
    }

    /// Asks on a terminal; without one, `--yes` must say so.
    func confirm(_ question: String) throws {
        if options.yes { return }
        guard isatty(STDIN_FILENO) == 1 else {
            throw PhotonError("\(command) changes machines and there is no terminal to ask on", help: "add --yes to \(command) without asking")
        }
        Output.error("\(question) Only 'yes' proceeds: ", newline: false)
        guard readLine()?.trimmingCharacters(in: .whitespaces).lowercased() == "yes" else {
            Output.error("Nothing was changed.")
            throw ExitCode.failure
        }
    }

    func summary(_ outcome: RunOutcome) -> String {
        "\(outcome.succeeded) done, \(outcome.skipped) already done, \(outcome.failed) failed, \(outcome.blocked) blocked, \(outcome.notStarted) not started"
    }

    func report(_ outcome: RunOutcome, plan: Plan) {
        var lines: [String] = []
        switch outcome.status {
        case .succeeded: lines.append("\(command) of \(blueprint.name.value) complete: \(summary(outcome)).")
        case .interrupted: lines.append("\(command) of \(blueprint.name.value) interrupted: \(summary(outcome)). Run it again to finish.")
        case .failed: lines.append("\(command) of \(blueprint.name.value) failed: \(summary(outcome)).")
        }
        if let journalError = outcome.journalError { lines.append("error: the state store failed: \(journalError)") }
        for failure in outcome.failures {
            lines.append("error: \(failure.actionID) on \(failure.machine): \(failure.message)")
            lines.append("  step: \(failure.summary)")
            if let tail = failure.stderrTail {
                lines.append(contentsOf: tail.split(separator: "\n", omittingEmptySubsequences: false).map { "  | \($0)" })
            }
        }
        if outcome.status != .succeeded { lines.append("The log of this run is in \(stateDirectory)/runs/.") }
        Output.error(TerminalText.visible(lines.joined(separator: "\n")))
    }

    func removeState() async throws {
        try await store.removeAll()
        Output.error("Removed the recorded state of \(blueprint.name.value) (\(stateDirectory)).")
    }
}

/// How to reach a cluster: an ssh line to one of its machines, running its kind's `access` command.
struct AccessEntry {
    var title: String
    var machine: String
    var address: String
    var user: String
    var port: Int
    var command: String

    /// The two lines `apply` prints, with the key and the known hosts of the state in `stateDirectory`.
    func lines(blueprint: Blueprint, stateDirectory: String) -> [String] {
        var ssh = ["ssh"]
        switch blueprint.ssh.key?.value {
        case .file(let path)?: ssh += ["-i", path]
        case .environment?: break
        default: ssh += ["-i", stateDirectory + "/id_ed25519"]
        }
        let knownHosts = stateDirectory + "/machines/known_hosts"
        if FileManager.default.fileExists(atPath: knownHosts) {
            ssh += ["-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + knownHosts]
        }
        if port != 22 { ssh += ["-p", String(port)] }
        ssh += ["\(user)@\(address)", command]
        // Every argument quoted for a POSIX shell: the line is meant to be pasted, and its parts come from the
        // blueprint, the state and (through the plane) the network.
        return [TerminalText.visible("\(title): \(machine) at \(address)"), TerminalText.visible("  " + ShellQuoting.join(ssh))]
    }

    var event: [String: String] {
        ["event": "access", "time": ProgressReporter.timestamp(), "title": title, "machine": machine, "address": address, "user": user,
         "port": String(port), "command": command]
    }

}

extension AccessEntry {
    init?(event: [String: Any]) {
        guard event["event"] as? String == "access", let title = event["title"] as? String, let machine = event["machine"] as? String,
              let address = event["address"] as? String, let user = event["user"] as? String, let command = event["command"] as? String else { return nil }
        self.init(title: title, machine: machine, address: address, user: user, port: Int(event["port"] as? String ?? "") ?? 22, command: command)
    }
}

/// Turns SIGINT into calls of a handler instead of ending the process.
final class InterruptHandler: @unchecked Sendable {
    private let source: any DispatchSourceSignal

    init(_ handler: @escaping @Sendable () -> Void) {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler(handler: handler)
        source.resume()
        self.source = source
    }

    func cancel() {
        source.cancel()
        signal(SIGINT, SIG_DFL)
    }
}
