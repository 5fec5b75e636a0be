import Blueprints
import Foundation
import Kinds
import PhotonCore
import PlaneAPI
import Planning

/// What `photon plan` shows, made without touching anything (no lock, no state written): this host's
/// plan, and for a deployment whose management plane runs its clusters, the plane's plan of them.
package struct Preview {
    /// This host's part: the whole deployment, or (with a plane) the plane's own machines; inside the
    /// plane, its clusters.
    package var plan: Plan
    /// The management plane's plan of the clusters, rendered there, when the plane runs them.
    package var clusters: PlanBody?
    /// What apply would refuse to start without (a binary with no source or digest); the plan shows the rest.
    package var warnings: [Diagnostic] = []

    /// Plans the blueprint at `blueprintPath`. `clustersFormat` is the format the plane renders its part
    /// in; `savingOrDrawing` says the caller wants a form only a local plan has (saved with -o, or DOT).
    package static func make(
        blueprintPath: String, templates: String?, state: StateLocation, clustersFormat: String, savingOrDrawing: Bool, refresh: Bool = false
    )
        async throws -> Preview
    {
        var workspace = try Workspace(templates: templates)
        try await workspace.receivePlaneSecrets()
        var loaded = try workspace.loadBlueprint(blueprintPath)
        let emptiness = Runner.blueprintWarnings(loaded)
        var recorded = try await state.recorded(deployment: loaded.name.value)
        let stateDirectory = state.directory(for: loaded.name.value)
        var plane: PlaneContext?
        if PlaneEnvironment.current != nil {
            // Inside the plane: the clusters only (the installer owns the plane's own machines).
            loaded.management = nil
            recorded.setAside(group: KindCatalog.managementKind)
        } else if loaded.management != nil, !state.local {
            plane = try PlaneContext.load(stateDirectory: stateDirectory)
            if plane != nil {
                guard !savingOrDrawing else {
                    throw PhotonError(
                        "a plan of a deployment run by its management plane can be shown as text or json, not saved or drawn",
                        help: "drop -o/--format dot, or plan the installer's own state with --local")
                }
                loaded.clusters = []
            }
        }
        if refresh {
            // Ask the control plane (and each machine's ports) what apply would ask: stopped machines and
            // silent sshds show as changes, with what apply will do about them.
            let (stopped, deaf) = try await Runner.unhealthyMachines(
                recorded, blueprint: loaded, context: try AccessReport.backendContext(directory: stateDirectory, deployment: loaded.name.value))
            for index in recorded.machines.indices {
                recorded.machines[index].stopped = stopped.contains(recorded.machines[index].name)
                recorded.machines[index].unanswered = deaf.contains(recorded.machines[index].name) ? [22] : []
            }
        }
        let planeFiles = PlaneFiles.artifacts(blueprint: loaded, stateDirectory: stateDirectory)
        let planner = workspace.planner(for: loaded, planeFiles: planeFiles, stateDirectory: stateDirectory)
        let resolved = try Resolver(catalog: workspace.catalog, secrets: planner.secrets, recorded: recorded).resolve(loaded)
        let plan = try planner.plan(resolved, recorded: recorded)
        let warnings = try emptiness + Runner.localPreflight(resolved, planner: planner, catalog: workspace.catalog, inPlane: PlaneEnvironment.current != nil)
        guard let plane else { return Preview(plan: plan, warnings: warnings) }
        // The installer's part (the plane's machines), then the plane's (the clusters), from its own state.
        let clusters = try await PlaneSession(context: plane, format: clustersFormat == "json" ? .json : .text)
            .plan(PlanRequest(workspace: try PlaneInstaller.workspace(path: blueprintPath, kinds: workspace.directory), format: clustersFormat))
        return Preview(plan: plan, clusters: clusters, warnings: warnings)
    }
}
