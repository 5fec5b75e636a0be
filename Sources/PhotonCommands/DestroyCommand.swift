import ArgumentParser
import Blueprints
import Crypto
import Deployments
import Engine
import Foundation
import Kinds
import PhotonCore
import PlaneAPI
import Planning
import StateStore

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
        let runner = try await Runner(
            blueprintPath: blueprint.file, templates: blueprint.templates, state: state.location, options: run.settings, command: "destroy")
        if runner.usesPlane, let context = try PlaneContext.load(stateDirectory: runner.stateDirectory) {
            let session = PlaneSession(context: context, format: run.format, waitsForBusy: !run.noWait)
            let everything = clusters.isEmpty && !keepManagement
            try runner.confirm(
                everything
                    ? "Destroy every cluster of \(runner.blueprint.name.value), then its management plane?"
                    : "Destroy \(clusters.isEmpty ? "every cluster" : clusters.joined(separator: ", ")) of \(runner.blueprint.name.value) through its management plane?"
            )
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
