import ArgumentParser
import Deployments

/// Options of the commands that change machines.
struct RunOptions: ParsableArguments {
    @Flag(name: [.short, .customLong("yes")], help: "Do not ask for confirmation (required when not on a terminal).")
    var yes = false

    @Option(help: "Actions running at once across the deployment (default: the blueprint's ssh.parallelism).")
    var parallelism: Int?

    @Option(help: "Progress output: text (a live view on a terminal, lines otherwise) or json (NDJSON events on stdout).")
    var format: OutputFormat = .text

    @Flag(
        help:
            "Through a management plane: when another operation holds the deployment, fail at once (HTTP 409) instead of following it to its end and then going on."
    )
    var noWait = false

    func validate() throws {
        if let parallelism, parallelism < 1 { throw ValidationError("--parallelism must be at least 1") }
    }

    var settings: RunSettings { RunSettings(yes: yes, parallelism: parallelism, format: format, noWait: noWait) }
}
