import ArgumentParser
import Deployments

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
        let assignments = counts.map { count -> (role: String, count: Int) in
            let parts = count.split(separator: "=", maxSplits: 1)
            return (String(parts[0]), Int(parts[1])!)
        }
        let deployment = try await Deployments.open(
            blueprintPath: blueprint.file, templates: blueprint.templates, state: state.location, settings: run.settings, command: "scale")
        try await deployment.scale(Scaling(cluster: cluster, assignments: assignments, force: force, dryRun: dryRun))
    }
}
