import Blueprints
import Kinds
import PhotonCore

/// How big one blueprint may be. A plan holds every machine's rendered files and steps in memory
/// (about 9 KiB a machine): these bounds keep planning within a few GiB and a few seconds on the
/// installer, twice the sizes the planner's benchmark measures.
public enum DeploymentLimits {
    public static let maxMachines = 200_000
    public static let maxClusters = 2_000
}

extension Resolver {
    /// Refuses blueprints beyond ``DeploymentLimits``, at the cluster that crosses the bound.
    func checkLimits(_ deployment: ResolvedDeployment, diagnostics: inout DiagnosticCollector) {
        let clusters = deployment.blueprint.clusters
        if clusters.count > DeploymentLimits.maxClusters {
            diagnostics.error(
                "the blueprint has \(clusters.count) clusters; photon plans at most \(DeploymentLimits.maxClusters) in one deployment",
                at: clusters[DeploymentLimits.maxClusters].name.location,
                help: "split the clusters over several deployments (blueprints)")
        }
        var total = 0
        for group in deployment.groups {
            total += group.roles.reduce(0) { $0 + $1.count }
            guard total > DeploymentLimits.maxMachines else { continue }
            let location = clusters.first { $0.name.value == group.name }?.location ?? deployment.blueprint.management?.location
            diagnostics.error(
                "the blueprint asks for \(deployment.machineCount) machines; photon plans at most \(DeploymentLimits.maxMachines) in one deployment",
                at: location, help: "this cluster crosses the limit; split the clusters over several deployments (blueprints)")
            return
        }
    }
}
