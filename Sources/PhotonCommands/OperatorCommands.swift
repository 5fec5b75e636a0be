import ArgumentParser
import Deployments
import Foundation
import PhotonCore
import SSH

struct SSHCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ssh",
        abstract: "Log in to a machine of the deployment, or run a command there, with photon's key.",
        discussion: """
            Only the host key photon pinned for the machine is trusted (checked over photon's own connection, \
            then written to STATE/ssh_known_hosts for ssh). MACHINE is a machine's name or its end \
            (web-managers-1). After --, the command and its arguments, each passed to the machine whole. \
            Machine names complete in the shell (photon --generate-completion-script bash|zsh|fish).
            """
    )

    @OptionGroup var blueprint: BlueprintOptions
    @OptionGroup var state: StateOptions

    @Argument(help: "The machine.", completion: .custom { words in MachineLogin.completions(words) })
    var machine: String

    @Argument(parsing: .postTerminator, help: ArgumentHelp("A command to run instead of a login shell.", valueName: "command"))
    var command: [String] = []

    func run() async throws {
        let arguments = try await MachineLogin.arguments(
            blueprintPath: blueprint.file, templates: blueprint.templates, state: state.location, machine: machine, command: command)
        fflush(nil)
        // ssh takes over the terminal (and the exit status): photon's process becomes it.
        let argv = arguments.map { strdup($0) } + [nil]
        execvp("ssh", argv)
        throw PhotonError("cannot start ssh: \(String(cString: strerror(errno)))", help: "install OpenSSH's client (Debian package openssh-client)")
    }
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Show photon's version and what it was built with.")

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    func run() throws {
        var system = utsname()
        uname(&system)
        func field<T>(_ value: T) -> String { withUnsafeBytes(of: value) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) } }
        let details: [(String, String)] = [
            ("version", PhotonVersion.current), ("platform", "\(field(system.sysname).lowercased())/\(field(system.machine))"),
            ("libssh2", SSHLibrary.version), ("executable", RunningExecutable.path),
            ("templates", (try? Workspace.templatesDirectory(explicit: nil)) ?? "not found"),
        ]
        if format == .json {
            Output.result(JSONOutput.encode(Dictionary(details, uniquingKeysWith: { a, _ in a })))
        } else {
            Output.result(details.map { "\($0.0): \($0.1)" }.joined(separator: "\n"))
        }
    }
}

struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs", abstract: "List the runs the deployment's state keeps (the last 100), newest first.",
        discussion: "'photon logs RUN' shows one. A deployment with a management plane keeps its clusters' runs there; these are the installer's."
    )

    @OptionGroup var blueprint: BlueprintOptions
    @OptionGroup var state: StateOptions

    @Option(help: "How many runs to show.")
    var limit = 20

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    func validate() throws {
        if limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() async throws {
        let runs = try RunHistory(blueprintPath: blueprint.file, templates: blueprint.templates, state: state.location).runs(limit: limit)
        if format == .json {
            Output.result(JSONOutput.encode(runs))
            return
        }
        guard !runs.isEmpty else {
            Output.error("no runs yet: 'photon apply -f \(blueprint.file)' makes the first")
            return
        }
        var lines = ["RUN  COMMAND  STARTED               TOOK      STATUS       SUMMARY"]
        for run in runs {
            let took = run.seconds.map { String(format: "%.1f s", $0) } ?? "-"
            lines.append(
                [
                    String(run.id).padding(toLength: 4, withPad: " ", startingAt: 0), run.command.padding(toLength: 7, withPad: " ", startingAt: 0),
                    run.startedAt.padding(toLength: 21, withPad: " ", startingAt: 0), took.padding(toLength: 9, withPad: " ", startingAt: 0),
                    run.status.padding(toLength: 12, withPad: " ", startingAt: 0), run.summary ?? "",
                ].joined(separator: " "))
        }
        Output.result(lines.joined(separator: "\n"))
    }
}

struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs", abstract: "Show a run's log (the last run's by default) and what its failed steps wrote.",
        discussion: "--machine keeps the lines of one machine; --follow shows the log as it grows until the run ends."
    )

    @OptionGroup var blueprint: BlueprintOptions
    @OptionGroup var state: StateOptions

    @Argument(help: "The run ('photon runs' lists them).")
    var run: Int64?

    @Option(help: "Only the lines of this machine.")
    var machine: String?

    @Flag(help: "Keep showing the log as it grows, until the run ends.")
    var follow = false

    func run() async throws {
        let history = try RunHistory(blueprintPath: blueprint.file, templates: blueprint.templates, state: state.location)
        var (record, path, failures) = try history.run(run)
        Output.error("run \(record.id): \(record.command), started \(record.startedAt), \(record.status)")
        var shown: UInt64 = 0
        func show() {
            guard let handle = FileHandle(forReadingAtPath: path) else { return }
            defer { try? handle.close() }
            try? handle.seek(toOffset: shown)
            let data = handle.readDataToEndOfFile()
            // Whole lines only: a line still being written is shown with the next read.
            guard let end = data.lastIndex(of: UInt8(ascii: "\n")) else { return }
            shown += UInt64(end - data.startIndex + 1)
            let lines = String(decoding: data[...end], as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            let kept = lines.filter { line in machine.map { line.contains($0) } ?? true }
            if !kept.isEmpty { Output.result(kept.joined(separator: "\n")) }
        }
        if !FileManager.default.fileExists(atPath: path) { Output.error("the run's log \(path) is gone") }
        show()
        while follow, record.status == "running" {
            try await Task.sleep(for: .milliseconds(500))
            show()
            (record, _, failures) = try history.run(record.id)
        }
        if follow { show() }
        for failure in failures where machine.map({ failure.machine == $0 || failure.action.hasPrefix($0 + "/") }) ?? true {
            var lines = ["failed \(failure.action) on \(failure.machine): \(failure.message ?? "")"]
            if let tail = failure.stderrTail { lines += tail.split(separator: "\n", omittingEmptySubsequences: false).map { "  | " + $0 } }
            Output.result(lines.joined(separator: "\n"))
        }
    }
}

extension StarterBlueprint.Driver: ExpressibleByArgument {}

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init", abstract: "Write a commented starter blueprint for one cluster of a kind.",
        discussion: "On local machines it plans as written; on static ones, put your machines' addresses and host keys in place of the examples."
    )

    @Option(help: ArgumentHelp("The cluster's kind ('photon kinds' lists them).", valueName: "kind"))
    var kind = "swarm"

    @Option(help: ArgumentHelp("Where its machines come from: local (LXC on this host) or static (machines you have).", valueName: "driver"))
    var driver: StarterBlueprint.Driver = .local

    @Option(help: "The deployment's name.")
    var name = "demo"

    @Option(name: .shortAndLong, help: "Write it to this file (refused when it exists, unless --force) instead of stdout.")
    var output: String?

    @Flag(help: "Replace the output file when it exists.")
    var force = false

    @OptionGroup var kinds: TemplatesOption

    func run() async throws {
        let workspace = try Workspace(templates: kinds.templates)
        guard let chosen = workspace.catalog.kinds[kind], kind != "management" else {
            throw PhotonError(
                "there is no cluster kind '\(kind)'", help: Suggestions.help(for: kind, among: workspace.catalog.clusterKinds.map(\.name), noun: "kind"))
        }
        if let problem = Hostname.problem(withLabel: name) {
            throw PhotonError("'\(TerminalText.visible(name))' is not a deployment name: \(problem)", help: "use lowercase letters, digits and '-'")
        }
        let text = StarterBlueprint.text(kind: chosen, driver: driver, name: name, command: "photon init --kind \(kind) --driver \(driver.rawValue)")
        guard let output else {
            Output.result(text)
            return
        }
        if FileManager.default.fileExists(atPath: output), !force {
            throw PhotonError("\(output) exists", help: "choose another file, or add --force to replace it")
        }
        try PrivateFile.write(text, to: output)
        Output.error("wrote \(output): 'photon plan -f \(output)' shows what it would do")
    }
}

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show a plan saved by 'photon plan -o' as the text plan.",
        discussion: "'photon apply PLAN.json' runs exactly these actions, or refuses the plan when the blueprint, the state or the file changed."
    )

    @Argument(help: "The saved plan.")
    var plan: String

    func run() throws {
        Output.result(try SavedPlan.text(plan, color: Output.stdoutColor))
    }
}
