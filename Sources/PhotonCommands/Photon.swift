import ArgumentParser
import Deployments
import Foundation
import PhotonCore

/// The `photon` command line.
public struct Photon: AsyncParsableCommand {
    public static let version = PhotonVersion.current

    public static let configuration = CommandConfiguration(
        commandName: "photon",
        abstract: "Deploy and scale Kubernetes, Mesos and Swarm clusters from YAML blueprints.",
        discussion: """
            photon reads a blueprint, plans the machines, files and commands it needs, and applies the plan \
            over SSH. 'photon plan' shows what would change without touching anything.
            Exit codes: 0 success, 1 failure, 2 changes pending (plan --detailed-exitcode), 64 usage error.
            --no-color (with any command) or NO_COLOR=1 turns colour off; it is only ever on a terminal.
            Shell completion: photon --generate-completion-script bash|zsh|fish (scripts/install puts them in place, with a man page).
            """,
        version: version,
        subcommands: [
            PlanCommand.self, ApplyCommand.self, ScaleCommand.self, DestroyCommand.self, StatusCommand.self, UnlockCommand.self,
            ValidateCommand.self, KindsCommand.self, SchemaCommand.self, BundleCommand.self, AccessCommand.self, KubeconfigCommand.self,
            BackupCommand.self, RestoreCommand.self, StateCommand.self, SSHCommand.self, RunsCommand.self, LogsCommand.self, InitCommand.self,
            ShowCommand.self, VersionCommand.self,
            ServeCommand.self, AgentCommand.self,
            RunOperationCommand.self,
        ]
    )

    public init() {}

    /// Runs the command line against `backends`, mapping photon's errors to the exit codes it documents.
    package static func run(arguments: [String]? = nil, backends: Backends = .standard) async -> Never {
        Backends.current.withLock { $0 = backends }
        var arguments = arguments ?? Array(CommandLine.arguments.dropFirst())
        // --no-color is photon's everywhere (before a --, after which words belong to a remote command).
        let end = arguments.firstIndex(of: "--") ?? arguments.endIndex
        if arguments[..<end].contains("--no-color") {
            Output.colorTurnedOff.withLock { $0 = true }
            arguments = arguments[..<end].filter { $0 != "--no-color" } + arguments[end...]
        }
        if let unknown = unknownSubcommand(arguments) {
            Output.error(DiagnosticRenderer(color: Output.stderrColor).render(unknown))
            Foundation.exit(64)
        }
        do {
            var command = try parseAsRoot(arguments)
            if var asynchronous = command as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
            Foundation.exit(0)
        } catch let exit as OperationExit {
            Foundation.exit(exit.code)
        } catch let error as DiagnosticsError {
            var renderer = DiagnosticRenderer(color: Output.stderrColor)
            Output.error(renderer.render(error.diagnostics))
            Foundation.exit(1)
        } catch let error as PhotonError {
            Output.error(DiagnosticRenderer(color: Output.stderrColor).render(error))
            Foundation.exit(1)
        } catch {
            exit(withError: error)
        }
    }
}

extension Photon {
    /// A first word that names no command (`photon plna`, `photon help nosuch`), with the closest command.
    static func unknownSubcommand(_ arguments: [String]) -> PhotonError? {
        let names = configuration.subcommands.filter { $0.configuration.shouldDisplay }.compactMap { $0.configuration.commandName }
        var words = arguments
        if words.first == "help" { words.removeFirst() }
        guard let word = words.first, !word.hasPrefix("-"), !(configuration.subcommands.contains { $0.configuration.commandName == word }) else {
            return nil
        }
        return PhotonError(
            "'\(word)' is not a photon command",
            help: Suggestions.closest(to: word, among: names).map { "did you mean '\($0)'?" } ?? "'photon --help' lists them")
    }
}

/// Where the cluster kinds are, for every command that needs them.
struct TemplatesOption: ParsableArguments {
    @Option(help: ArgumentHelp("Folder of cluster kinds (default: $PHOTON_TEMPLATES, then the templates/ shipped with photon).", valueName: "dir"))
    var templates: String?
}

/// Options every command that reads a blueprint shares.
struct BlueprintOptions: ParsableArguments {
    @Option(name: [.short, .customLong("file")], help: ArgumentHelp("The blueprint to read.", valueName: "file"))
    var file: String

    @OptionGroup var kinds: TemplatesOption

    var templates: String? { kinds.templates }
}

/// A plan can also be drawn (Graphviz DOT).
enum PlanFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json, dot
}

extension OutputFormat: ExpressibleByArgument {}
