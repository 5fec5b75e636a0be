import Blueprints
import Crypto
import Engine
import Foundation
import Kinds
import PhotonCore
import PlaneAPI
import Planning
import StateStore

/// What the prepare phase hands to the others: the target, resolved and planned against the recorded
/// state as apply will see it (new scaled counts, generated secrets and certificates included).
package struct PreparedRun {
    package var resolved: ResolvedDeployment
    package var recorded: RecordedState
    /// Scaled counts this run records (before it runs anything, so an interrupted scale is finished).
    package var newCounts: [ScaledCount]
    package var plan: Plan
    package var renderer: ActionRenderer
    /// The binaries the plan uploads, fetched into the installer's cache before anything runs.
    package var binaries: [BinaryFile] = []
}

extension Runner {
    /// The phases in order; the lock is held throughout.
    package func converge(saved: SavedPlan?, goal: Goal, scaling: Scaling?, confirmed: Bool) async throws {
        let prepared = try await prepare(goal: goal, scaling: scaling)
        if let saved { try saved.check(against: prepared.plan, serial: prepared.recorded.serial) }
        show(prepared.plan)
        if scaling?.dryRun == true {
            Output.error("Dry run: nothing was changed.")
            return
        }
        guard prepared.plan.hasChanges else {
            if !prepared.newCounts.isEmpty { try await store.recordScaledCounts(prepared.newCounts) }
            try await finish(goal, prepared.resolved, recorded: prepared.recorded, printingAccess: false)
            return
        }
        let outcome = try await run(prepared, goal: goal, confirmed: confirmed)
        switch outcome.status {
        case .succeeded:
            try await finish(goal, prepared.resolved, recorded: prepared.recorded, printingAccess: options.format == .text || state.inPlane)
        case .failed:
            throw OperationExit.failure
        case .interrupted:
            throw OperationExit.interrupted
        }
    }

    /// Target: what the goal leaves of the blueprint, and the groups whose machines retire (static
    /// machines stay, so destroy resets them through their roles' teardown steps instead of deleting).
    package func target(for goal: Goal) throws -> (blueprint: Blueprint, retired: Set<String>) {
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
        return (target, retired)
    }

    /// Prepare: resolve the target against the recorded state, again after each fact this run adds to
    /// it (new scaled counts, generated secrets, certificates), ask the machines' health, and plan.
    package func prepare(goal: Goal, scaling: Scaling?) async throws -> PreparedRun {
        var (target, retired) = try self.target(for: goal)
        var recorded = try await store.recordedState()
        // The installer owns the management plane's machines and the plane owns the clusters: inside the
        // plane, its own machines are neither planned nor touched (a plane never restarts itself mid-run).
        if state.inPlane {
            target.management = nil
            recorded.setAside(group: KindCatalog.managementKind)
        } else if target.management != nil {
            try PlaneFiles.prepare(blueprint: blueprint, state: state)
        }
        let planner = workspace.planner(
            for: target, planeFiles: PlaneFiles.artifacts(blueprint: blueprint, stateDirectory: stateDirectory), stateDirectory: stateDirectory)
        let finalTarget = target
        func resolve() throws -> ResolvedDeployment {
            var resolved = try Resolver(catalog: workspace.catalog, secrets: planner.secrets, recorded: recorded).resolve(finalTarget)
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
        if goal.isDestroy {
            let (plan, renderer) = try planner.planForApply(resolved, recorded: recorded)
            return PreparedRun(resolved: resolved, recorded: recorded, newCounts: newCounts, plan: plan, renderer: renderer)
        }
        try await issueCertificates(planner: planner, resolved: resolved, recorded: &recorded)
        // Machines the control plane reports stopped (the host rebooted) are started and reconfigured;
        // running ones whose sshd alone died get it back, and are reconfigured too.
        let (stopped, deaf) = try await unhealthyMachines(recorded)
        for index in recorded.machines.indices {
            recorded.machines[index].stopped = stopped.contains(recorded.machines[index].name)
            recorded.machines[index].unanswered = deaf.contains(recorded.machines[index].name) ? [22] : []
        }
        var (plan, renderer) = try planner.planForApply(resolved, recorded: recorded)
        // A machine with nothing to do whose health port does not answer (its service died with its
        // supervisor) is configured and checked again, like one that was stopped.
        let silent = await Self.unansweredHealthPorts(plan)
        if !silent.isEmpty {
            for index in recorded.machines.indices { recorded.machines[index].unanswered += silent[recorded.machines[index].name] ?? [] }
            (plan, renderer) = try planner.planForApply(resolved, recorded: recorded)
        }
        let uploaded = Set(
            plan.actions.compactMap { action -> String? in
                guard case .upload(let file) = action.detail, file.isArtifact else { return nil }
                return file.sha256
            })
        // Preflight: what the machines need but would not have stops the run before anything changes.
        let problems = try Self.localPreflight(resolved, planner: planner, catalog: workspace.catalog, inPlane: state.inPlane)
        if !problems.isEmpty { throw DiagnosticsError(problems) }
        let binaries = try planner.binaries.files(for: resolved, catalog: workspace.catalog).filter { uploaded.contains($0.sha256) }
        return PreparedRun(resolved: resolved, recorded: recorded, newCounts: newCounts, plan: plan, renderer: renderer, binaries: binaries)
    }

    /// Certificates the kinds declare, issued (or renewed) and recorded before planning, like generated secrets.
    package func issueCertificates(planner: Planner, resolved: ResolvedDeployment, recorded: inout RecordedState) async throws {
        let pending = try planner.certificatesToIssue(resolved, recorded: recorded)
        guard !pending.isEmpty else { return }
        let issued = try PendingCertificate.issue(pending, recorded: recorded.generatedSecrets)
        try await store.storeGeneratedSecrets(issued)
        for certificate in pending where certificate.reason != "new" && certificate.reason != "new authority" {
            Output.error("renewing the certificate \(certificate.key): \(certificate.reason)")
        }
        recorded.generatedSecrets.merge(issued) { _, new in new }
        recorded.serial = try await store.currentSerial()
    }

    /// Show: the plan on stdout, as text or (so a client of the plane can show it) as the first event.
    package func show(_ plan: Plan) {
        if options.format == .text {
            Output.result(PlanTextRenderer(color: Output.stdoutColor).render(plan))
        } else {
            Output.result(RunEventLine(.plan(text: PlanTextRenderer(color: false).render(plan), changes: plan.hasChanges)).json)
        }
    }

    /// Confirm and run: the engine over the plan, journaled as one run, with progress and Ctrl-C.
    package func run(_ prepared: PreparedRun, goal: Goal, confirmed: Bool) async throws -> RunOutcome {
        let plan = prepared.plan
        // Before asking: a missing driver or transport is said at once, not after a "yes".
        let context = try await backendContext()
        let driver = try Backends.current.current.driver(blueprint, context)
        let shell = try Backends.current.current.shell(blueprint, context)
        let journal = Backends.current.current.journal(store)
        if !confirmed {
            try confirm(
                goal.isDestroy ? "Destroy \(plan.summary.delete) machine(s) of \(blueprint.name.value)?" : "Apply this plan to \(blueprint.name.value)?")
        }
        try await staticPreflight(prepared, driver: driver, shell: shell)
        // Every binary is in the cache and checked before the first machine changes.
        try await BinaryFetcher(cacheDirectory: Workspace.binaryCache(stateDirectory: stateDirectory)).fetch(prepared.binaries) { Output.error($0) }
        // The new counts are recorded before anything runs: an interrupted scale is finished by the next apply.
        if !prepared.newCounts.isEmpty { try await store.recordScaledCounts(prepared.newCounts) }
        let runID = try await store.beginRun(command: command, blueprintDigest: blueprint.digest)
        if options.format == .json { Output.result(RunEventLine(.run(id: runID)).json) }
        let logDirectory = stateDirectory + "/runs"
        // The last 100 runs and their logs are kept; older ones go, so the state does not grow forever.
        for old in (try? await store.pruneRuns(keeping: Runner.keptRuns)) ?? [] { try? FileManager.default.removeItem(atPath: "\(logDirectory)/\(old).log") }
        try? FileManager.default.createDirectory(atPath: logDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let mode: ProgressReporter.Mode = options.format == .json ? .json : (Output.wantsColor(STDERR_FILENO) ? .live : .lines)
        let progress = ProgressReporter(plan: plan, mode: mode, logPath: "\(logDirectory)/\(runID).log")
        let engine = Engine(
            plan: plan, renderer: prepared.renderer, driver: driver, shell: shell, journal: journal,
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

        let status: RunStatus =
            switch outcome.status {
            case .succeeded: .succeeded
            case .failed: .failed
            case .interrupted: .interrupted
            }
        try await store.finishRun(runID, status: status, summary: summary(outcome))
        report(outcome, plan: plan)
        return outcome
    }

    /// Ready machines the driver says are not running, and running ones whose SSH port does not answer
    /// (one connection attempt each, all at once). Only drivers that can tell without connecting, and
    /// repair, answer (the local one); for the others every machine is fine.
    package func unhealthyMachines(_ recorded: RecordedState) async throws -> (stopped: Set<String>, deaf: Set<String>) {
        try await Self.unhealthyMachines(recorded, blueprint: blueprint, context: try await backendContext())
    }

    /// The same questions, for `plan --refresh` (no run, no lock).
    package static func unhealthyMachines(
        _ recorded: RecordedState, blueprint: Blueprint, context: BackendContext
    ) async throws -> (
        stopped: Set<String>, deaf: Set<String>
    ) {
        guard case .local = blueprint.controlPlane, recorded.machines.contains(where: { $0.lifecycle == .ready }) else { return ([], []) }
        let driver = try Backends.current.current.driver(blueprint, context)
        var stopped = Set<String>()
        var running: [String: String] = [:]
        for machine in recorded.machines where machine.lifecycle == .ready {
            if await driver.isRunning(name: machine.name) == false { stopped.insert(machine.name) } else { running[machine.name] = machine.address }
        }
        return (stopped, await driver.deafMachines(running))
    }

    /// The health ports of the plan's unchanged machines that do not answer, by machine: one
    /// connection attempt to each, all at once, 500 ms at most.
    package static func unansweredHealthPorts(_ plan: Plan) async -> [String: [Int]] {
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
}
