import Blueprints
import Foundation
import Kinds
import PhotonCore
import Planning

/// What `photon scale` asks for.
package struct Scaling {
    package var cluster: String
    package var assignments: [(role: String, count: Int)]
    package var force: Bool
    package var dryRun: Bool

    package init(cluster: String, assignments: [(role: String, count: Int)], force: Bool, dryRun: Bool) {
        self.cluster = cluster
        self.assignments = assignments
        self.force = force
        self.dryRun = dryRun
    }

    /// The counts to record, checked against the resolved deployment (the counts in force now).
    package func scaledCounts(in resolved: ResolvedDeployment) throws -> [ScaledCount] {
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
