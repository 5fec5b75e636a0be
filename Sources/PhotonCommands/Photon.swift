import ArgumentParser
import Foundation
import PhotonCore

/// The `photon` command line.
public struct Photon: AsyncParsableCommand {
    public static let version = "0.1.0"

    public static let configuration = CommandConfiguration(
        commandName: "photon",
        abstract: "Deploy and scale Kubernetes, Mesos and Swarm clusters from YAML blueprints.",
        discussion: """
            photon reads a blueprint, plans the machines, files and commands it needs, and applies the plan \
            over SSH. 'photon plan' shows what would change without touching anything.
            Exit codes: 0 success, 1 failure, 2 changes pending (plan --detailed-exitcode), 64 usage error.
            """,
        version: version,
        subcommands: [
            PlanCommand.self, ApplyCommand.self, ScaleCommand.self, DestroyCommand.self, StatusCommand.self, UnlockCommand.self,
            ValidateCommand.self, KindsCommand.self, SchemaCommand.self, ServeCommand.self, AgentCommand.self,
        ]
    )

    public init() {}

    /// Runs the command line against `backends`, mapping photon's errors to the exit codes it documents.
    public static func run(arguments: [String]? = nil, backends: Backends = .standard) async -> Never {
        Backends.current.withLock { $0 = backends }
        do {
            var command = try parseAsRoot(arguments)
            if var asynchronous = command as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
            Foundation.exit(0)
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

/// What a command writes its results in; ArgumentParser refuses anything else when it parses.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// A plan can also be drawn (Graphviz DOT).
enum PlanFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json, dot
}

/// Where output goes: results to stdout, everything else to stderr. No control character reaches the
/// terminal except the colours and redraws photon writes itself (and none of those without colour): a
/// value's ESC, BEL or CR shows as `\x1b`, `\x07`, `\x0d`.
enum Output {
    static func result(_ text: String) {
        let safe = TerminalText.sanitized(text, keepingStyles: stdoutColor)
        FileHandle.standardOutput.write(Data((safe.hasSuffix("\n") ? safe : safe + "\n").utf8))
    }

    static func error(_ text: String, newline: Bool = true) {
        let safe = TerminalText.sanitized(text, keepingStyles: stderrColor)
        FileHandle.standardError.write(Data((safe.hasSuffix("\n") || !newline ? safe : safe + "\n").utf8))
    }

    /// Colour only on a terminal, and never when NO_COLOR is set.
    static func wantsColor(_ descriptor: Int32) -> Bool {
        isatty(descriptor) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }

    static var stdoutColor: Bool { wantsColor(STDOUT_FILENO) }
    static var stderrColor: Bool { wantsColor(STDERR_FILENO) }
}
