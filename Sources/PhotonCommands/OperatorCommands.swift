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
