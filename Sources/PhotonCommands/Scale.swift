import ArgumentParser
import Blueprints
import Foundation
import Kinds
import PhotonCore
import PlaneAPI
import Planning

struct ScaleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale",
        abstract: "Change how many machines roles of a cluster have, on day 2, through the same engine as apply.",
        discussion: """
            Prints the plan first ('--dry-run' stops there), then records the new counts and applies them: \
            scale-up makes only the new machines and runs their steps and joins; scale-down drains first (on \
            a surviving machine) and removes the highest-numbered machines. A later 'photon apply' keeps a \
            scaled count until the blueprint's count for that role changes; 'plan' and 'status' show where \
            each count comes from. Counts that break a quorum rule (an even number of Raft, etcd or ZooKeeper \
            members) are refused unless --force; the kind's minimum and maximum always hold.
            """
    )

    @OptionGroup var blueprint: BlueprintOptions
    @OptionGroup var state: StateOptions
    @OptionGroup var run: RunOptions

    @Argument(help: ArgumentHelp("The cluster to scale (management for the management plane).", valueName: "cluster"))
    var cluster: String

    @Argument(help: ArgumentHelp("New counts: ROLE=N, one or more.", valueName: "role=count"))
    var counts: [String]

    @Flag(help: "Print the plan and change nothing.")
    var dryRun = false

    @Flag(help: "Allow counts that break the kind's quorum rule (an even number of members).")
    var force = false

    func validate() throws {
        if counts.isEmpty { throw ValidationError("give at least one ROLE=N") }
        for count in counts {
            let parts = count.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty, let value = Int(parts[1]), value >= 0 else {
                throw ValidationError("'\(count)' is not ROLE=N (N a count of machines, 0 or more)")
            }
        }
    }

    func run() async throws {
        let runner = try await Runner(
            blueprintPath: blueprint.file, templates: blueprint.templates, state: state.location, options: run.settings, command: "scale")
        let assignments = counts.map { count -> (role: String, count: Int) in
            let parts = count.split(separator: "=", maxSplits: 1)
            return (String(parts[0]), Int(parts[1])!)
        }
        // Clusters are scaled by the plane; the plane's own machines by the installer.
        if runner.usesPlane, cluster != KindCatalog.managementKind, let context = try PlaneContext.load(stateDirectory: runner.stateDirectory) {
            var session = PlaneSession(context: context, format: run.format, waitsForBusy: !run.noWait)
            let request = ScaleRequest(counts: Dictionary(assignments, uniquingKeysWith: { _, last in last }), force: force ? true : nil)
            if dryRun || !run.yes {
                let plan = try await session.plan(PlanRequest(workspace: nil, scale: request, cluster: cluster, format: run.format == .json ? "json" : "text"))
                Output.result(plan.plan)
                if !plan.errors.isEmpty { Output.error(plan.errors) }
                guard plan.exitStatus == 0 else { throw ExitCode.failure }
                if dryRun { return }
                try runner.confirm("Scale \(cluster) of \(runner.blueprint.name.value) through its management plane?")
                session.showsPlan = false
            }
            try await session.scale(cluster: cluster, counts: request.counts, force: force)
            return
        }
        try await runner.execute(saved: nil, goal: .apply, scaling: Scaling(cluster: cluster, assignments: assignments, force: force, dryRun: dryRun))
    }
}

/// What `photon scale` asks for.
struct Scaling {
    var cluster: String
    var assignments: [(role: String, count: Int)]
    var force: Bool
    var dryRun: Bool

    /// The counts to record, checked against the resolved deployment (the counts in force now).
    func scaledCounts(in resolved: ResolvedDeployment) throws -> [ScaledCount] {
        guard let group = resolved.groups.first(where: { $0.name == cluster }) else {
            throw PhotonError(
                "the blueprint has no cluster '\(cluster)'",
                help: Suggestions.help(for: cluster, among: resolved.groups.map(\.name), noun: "cluster"))
        }
        var counts: [ScaledCount] = []
        for (roleName, count) in assignments {
            guard let role = group.roles.first(where: { $0.name == roleName }) else {
                throw PhotonError(
                    "cluster '\(cluster)' (\(group.kind.name)) has no role '\(roleName)'",
                    help: Suggestions.help(for: roleName, among: group.roles.map(\.name), noun: "role"))
            }
            let rule = role.declaration.count
            if count < rule.min || count > rule.max {
                throw PhotonError("\(cluster) \(roleName) cannot be \(count): kind \(group.kind.name) allows \(rule.rangeSummary) \(roleName)")
            }
            if rule.odd, count % 2 == 0, !force {
                let options = [count - 1, count + 1].filter { $0 >= max(rule.min, 1) && $0 <= rule.max }.map(String.init).joined(separator: " or ")
                throw PhotonError(
                    "\(cluster) \(roleName) form a quorum: \(count) members tolerate no more failures than \(count - 1), and an even split can stop the cluster",
                    help: "use \(options), or --force to have \(count) anyway")
            }
            if rule.rescaleNeedsRestart, count != role.count, !force {
                throw PhotonError(
                    "changing the number of \(cluster) \(roleName) changes their quorum, which needs every one of them restarted",
                    help: "photon does not restart a quorum under load; use --force to change it anyway")
            }
            counts.append(ScaledCount(group: cluster, role: roleName, count: count, baseCount: role.blueprintCount ?? role.count))
        }
        return counts
    }
}
