import ArgumentParser
import Deployments

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
        let deployment = try await Deployments.open(
            blueprintPath: blueprint.file, templates: blueprint.templates, state: state.location, settings: run.settings, command: "destroy")
        try await deployment.destroy(clusters: clusters, keepManagement: keepManagement)
    }
}
