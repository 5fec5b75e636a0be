import ArgumentParser
import Deployments

struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Make the machines match the blueprint, durably: an interrupted apply is finished by the next one.",
        discussion: """
            Shows the plan and asks before changing anything. 'photon apply PLAN.json' runs a plan saved by \
            'photon plan -o' exactly, and refuses it when the blueprint or the recorded state changed since. \
            Ctrl-C stops starting actions and lets running ones finish (exit 130); a second Ctrl-C aborts them.
            """
    )

    @Argument(help: ArgumentHelp("A plan saved with 'photon plan -o'.", valueName: "plan-file"))
    var planFile: String?

    @Option(name: [.short, .customLong("file")], help: ArgumentHelp("The blueprint to apply.", valueName: "file"))
    var file: String?

    @OptionGroup var kinds: TemplatesOption
    @OptionGroup var state: StateOptions
    @OptionGroup var run: RunOptions

    func validate() throws {
        if (planFile == nil) == (file == nil) { throw ValidationError("give either -f BLUEPRINT or a saved PLAN file") }
    }

    func run() async throws {
        var saved: SavedPlan?
        var blueprintPath = file ?? ""
        if let planFile {
            saved = try SavedPlan.read(planFile)
            blueprintPath = saved?.blueprintFile ?? ""
        }
        let deployment = try await Deployments.open(
            blueprintPath: blueprintPath, templates: kinds.templates, state: state.location, settings: run.settings, command: "apply")
        try await deployment.apply(saved: saved)
    }
}
