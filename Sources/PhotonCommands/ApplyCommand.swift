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
        let runner = try await Runner(blueprintPath: blueprintPath, templates: kinds.templates, state: state.location, options: run.settings, command: "apply")
        if runner.usesPlane {
            guard saved == nil else {
                throw PhotonError(
                    "a saved plan cannot be applied to a deployment with a management plane",
                    help: "apply the blueprint (photon apply -f \(blueprintPath)), or the installer's own state with --local")
            }
            // The installer keeps the plane itself up; the plane applies the clusters.
            let context = try await PlaneInstaller.preparePlane(runner)
            let bundle = try PlaneInstaller.workspace(runner)
            var session = PlaneSession(context: context, format: run.format, waitsForBusy: !run.noWait)
            session.access = (runner.blueprint, runner.stateDirectory)
            if !run.yes {
                let plan = try await session.plan(PlanRequest(workspace: bundle, format: "text"))
                Output.result("Clusters (from the management plane):\n" + plan.plan)
                guard plan.exitStatus == 2 else {
                    if plan.exitStatus != 0 {
                        Output.error(plan.errors)
                        throw ExitCode.failure
                    }
                    return
                }
                try runner.confirm("Apply this plan to \(runner.blueprint.name.value) through its management plane?")
                session.showsPlan = false
            }
            try await session.apply(bundle)
            return
        }
        try await runner.execute(saved: saved, goal: .apply)
    }
}
