import Blueprints
import Foundation
import Kinds
import PhotonCore
import PlaneAPI

/// A deployment with a management plane, seen from its installer: the installer keeps the plane's own
/// machines up (and bootstraps the plane on the first apply); the plane changes the clusters, through
/// its HTTPS API. Before the plane was handed the state (no context file), everything is local.
package struct PlaneDeployment: Deployment {
    package let runner: Runner
    /// The plane's endpoints, certificate and token; nil until the first apply hands the state over.
    package let context: PlaneContext?

    private var local: LocalDeployment { LocalDeployment(runner: runner) }
    private var deployment: String { runner.blueprint.name.value }

    private func session(_ context: PlaneContext) -> PlaneSession {
        PlaneSession(context: context, format: runner.options.format, waitsForBusy: !runner.options.noWait)
    }

    package func apply(saved: SavedPlan?) async throws {
        guard saved == nil else {
            throw PhotonError(
                "a saved plan cannot be applied to a deployment with a management plane",
                help: "apply the blueprint (photon apply -f \(runner.blueprintPath)), or the installer's own state with --local")
        }
        // The installer keeps the plane itself up; the plane applies the clusters.
        let context = try await PlaneInstaller.preparePlane(runner)
        let bundle = try PlaneInstaller.workspace(runner)
        var session = session(context)
        session.access = (runner.blueprint, runner.stateDirectory)
        if !runner.options.yes {
            let plan = try await session.plan(PlanRequest(workspace: bundle, format: "text"))
            Output.result("Clusters (from the management plane):\n" + plan.plan)
            guard plan.exitStatus == 2 else {
                if plan.exitStatus != 0 {
                    Output.error(plan.errors)
                    throw OperationExit.failure
                }
                return
            }
            try runner.confirm("Apply this plan to \(deployment) through its management plane?")
            session.showsPlan = false
        }
        try await session.apply(bundle)
    }

    package func scale(_ scaling: Scaling) async throws {
        // Clusters are scaled by the plane; the plane's own machines by the installer.
        guard let context, scaling.cluster != KindCatalog.managementKind else { return try await local.scale(scaling) }
        var session = session(context)
        let request = ScaleRequest(
            counts: Dictionary(scaling.assignments, uniquingKeysWith: { _, last in last }), force: scaling.force ? true : nil)
        if scaling.dryRun || !runner.options.yes {
            let plan = try await session.plan(
                PlanRequest(workspace: nil, scale: request, cluster: scaling.cluster, format: runner.options.format == .json ? "json" : "text"))
            Output.result(plan.plan)
            if !plan.errors.isEmpty { Output.error(plan.errors) }
            guard plan.exitStatus == 0 else { throw OperationExit.failure }
            if scaling.dryRun { return }
            try runner.confirm("Scale \(scaling.cluster) of \(deployment) through its management plane?")
            session.showsPlan = false
        }
        try await session.scale(cluster: scaling.cluster, counts: request.counts, force: scaling.force)
    }

    package func destroy(clusters: [String], keepManagement: Bool) async throws {
        guard let context else { return try await local.destroy(clusters: clusters, keepManagement: keepManagement) }
        let everything = clusters.isEmpty && !keepManagement
        try runner.confirm(
            everything
                ? "Destroy every cluster of \(deployment), then its management plane?"
                : "Destroy \(clusters.isEmpty ? "every cluster" : clusters.joined(separator: ", ")) of \(deployment) through its management plane?"
        )
        try await session(context).destroyClusters(clusters.isEmpty ? nil : clusters)
        guard everything else { return }
        // The clusters are gone; the plane's machines are the installer's own to remove, with its agent.
        runner.forgetPlane(agent: context.agent)
        try await runner.execute(saved: nil, goal: .destroy, confirmed: true)
    }
}
