import ArgumentParser
import Deployments
import Foundation
import PhotonCore

struct AccessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "access",
        abstract: "Show what reaches a deployment's clusters: ssh, service URLs, client variables.",
        discussion: """
            Also writes STATE/ssh_config, a Host block per access machine with photon's key and pinned host keys: \
            `Include` it at the top of ~/.ssh/config and `DOCKER_HOST=ssh://MACHINE` (Swarm) uses them. \
            --env prints `export` lines for one cluster, to eval.
            """
    )

    @OptionGroup var blueprint: BlueprintOptions
    @OptionGroup var state: StateOptions

    @Argument(help: "One cluster (all when absent).")
    var cluster: String?

    @Flag(help: "Print the cluster's client variables as shell export lines.")
    var env = false

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    func validate() throws {
        if env, cluster == nil { throw ValidationError("--env needs a CLUSTER") }
    }

    func run() async throws {
        let report = try await AccessReport.make(blueprintPath: blueprint.file, templates: blueprint.templates, state: state.location, cluster: cluster)
        if format == .json {
            Output.result(JSONOutput.encode(report.clusters))
            return
        }
        if env {
            let variables = report.clusters.flatMap { $0.environment.sorted { $0.key < $1.key } }
            for (name, value) in variables { Output.result("export \(name)=\(ShellQuoting.quote(value))") }
            if let config = report.clusters.compactMap(\.sshConfig).first {
                Output.error("ssh reads \(config) once ~/.ssh/config has 'Include \(config)' at its top")
            }
            if variables.isEmpty {
                Output.error("cluster \(cluster ?? "") has no client variables; 'photon access -f \(blueprint.file)' shows how to reach it")
            }
            return
        }
        Output.result(TerminalText.visible(Self.lines(report.clusters, blueprint: blueprint.file).joined(separator: "\n")))
    }

    static func lines(_ clusters: [ClusterAccess], blueprint: String) -> [String] {
        var lines: [String] = []
        for access in clusters {
            if !lines.isEmpty { lines.append("") }
            lines.append("cluster \(access.cluster) (\(access.kind))")
            lines.append("  ssh: " + ShellQuoting.join(access.ssh))
            for endpoint in access.endpoints { lines.append("  \(endpoint.name): \(endpoint.url)  (\(endpoint.machine))") }
            for (name, value) in access.environment.sorted(by: { $0.key < $1.key }) { lines.append("  \(name)=\(value)") }
            if let config = access.sshConfig {
                lines.append("  (ssh and \(access.environment.keys.sorted().joined(separator: ", ")) need 'Include \(config)' at the top of ~/.ssh/config)")
            }
            if access.kubeconfig {
                lines.append("  kubeconfig: photon kubeconfig -f \(ShellQuoting.quote(blueprint)) \(access.cluster) -o \(access.cluster).kubeconfig")
            }
        }
        return lines
    }
}

struct KubeconfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kubeconfig",
        abstract: "Write an admin kubeconfig of a Kubernetes cluster.",
        discussion: "Read from the first controller over photon's SSH, with the server pointing at it. With -o, written with mode 0600; else printed."
    )

    @OptionGroup var blueprint: BlueprintOptions
    @OptionGroup var state: StateOptions

    @Argument(help: "The cluster.")
    var cluster: String

    @Option(name: [.short, .customLong("out")], help: ArgumentHelp("Write it to this file (mode 0600).", valueName: "path"))
    var out: String?

    func run() async throws {
        let text = try await Kubeconfig.fetch(blueprintPath: blueprint.file, templates: blueprint.templates, state: state.location, cluster: cluster)
        guard let out else {
            Output.result(text.hasSuffix("\n") ? String(text.dropLast()) : text)
            return
        }
        try PrivateFile.write(text, to: out)
        Output.error("Wrote \(out) (0600). KUBECONFIG=\(out) kubectl get nodes")
    }
}
