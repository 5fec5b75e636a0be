import Blueprints
import Foundation
import Kinds
import PhotonCore

/// A deployment as apply, scale and destroy see it. Whether its clusters are changed on this host or by
/// its management plane is decided once, when it is opened; the operations then read the same either
/// way (Terraform's local and remote backends).
package protocol Deployment: Sendable {
    /// The blueprint, the recorded state and how the run goes, as opened.
    var runner: Runner { get }
    /// Makes the machines match the blueprint, or runs a saved plan exactly.
    func apply(saved: SavedPlan?) async throws
    /// Changes role counts of one cluster (or, with `dryRun`, shows the plan of it).
    func scale(_ scaling: Scaling) async throws
    /// Removes the named clusters (none named: every cluster), then, unless `keepManagement`, the
    /// management plane and the recorded state.
    func destroy(clusters: [String], keepManagement: Bool) async throws
}

/// Opens deployments.
package enum Deployments {
    /// Reads the blueprint and the state, then chooses: the management plane when the blueprint has one,
    /// this photon is not inside it and `--local` was not given; else this host.
    package static func open(
        blueprintPath: String, templates: String?, state: StateLocation, settings: RunSettings, command: String
    )
        async throws -> any Deployment
    {
        let runner = try await Runner(blueprintPath: blueprintPath, templates: templates, state: state, options: settings, command: command)
        guard runner.usesPlane else { return LocalDeployment(runner: runner) }
        return PlaneDeployment(runner: runner, context: try PlaneContext.load(stateDirectory: runner.stateDirectory))
    }
}

/// A deployment changed from this host: its state here, its machines made by this host's drivers (also
/// the installer's own state of a deployment with a plane, with `--local`, and the plane's own view of
/// its clusters, inside it).
package struct LocalDeployment: Deployment {
    package let runner: Runner

    package func apply(saved: SavedPlan?) async throws {
        try await runner.execute(saved: saved, goal: .apply)
    }

    package func scale(_ scaling: Scaling) async throws {
        try await runner.execute(saved: nil, goal: .apply, scaling: scaling)
    }

    package func destroy(clusters: [String], keepManagement: Bool) async throws {
        // The plane never removes itself: inside it, destroy means the clusters.
        let goal: Runner.Goal =
            !clusters.isEmpty ? .destroyClusters(clusters) : keepManagement || runner.state.inPlane ? .destroyClusters(nil) : .destroy
        // `--local` of a deployment with a plane: the installer's agent for it goes with the state.
        let agent = runner.state.inPlane ? nil : (try? PlaneContext.load(stateDirectory: runner.stateDirectory))?.agent
        try await runner.execute(saved: nil, goal: goal)
        if case .destroy = goal, !runner.state.inPlane, runner.blueprint.management != nil { runner.forgetPlane(agent: agent) }
    }
}

extension Runner {
    /// The installer's side of a plane that is gone or going: every agent of the state folder (the
    /// recorded one and any a killed installer left unrecorded) ended, the context file removed.
    func forgetPlane(agent: PlaneContext.Agent?) {
        AgentProcess.stopAll(stateDirectory: stateDirectory, known: agent)
        PlaneContext.remove(stateDirectory: stateDirectory)
    }
}
