import ArgumentParser
import Blueprints
import Crypto
import Deployments
import Drivers
import Foundation
import PhotonCore
import PlaneAPI
import StateStore

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the management plane's API server (the management kind starts it on each plane machine).",
        discussion: """
            HTTPS with the certificate the installer made (clients pin it), a bearer token on every request, \
            the deployment's state in etcd. One server, elected with an etcd lease, runs operations; every \
            server answers reads and records operations for the leader. The API is described in \
            Sources/PlaneAPI/openapi.yaml.
            """
    )

    @Option(help: ArgumentHelp("The server's configuration.", valueName: "file"))
    var config = "/etc/photon/serve.yaml"

    @Flag(help: "Check that every API server (and HAProxy) of the configuration answers healthy, then exit (0 when all do).")
    var check = false

    func run() async throws {
        let configuration = try ServeConfiguration.load(config)
        if check {
            try await PlaneHealthCheck.run(configuration)
            Output.error("every API server of \(configuration.deployment) is healthy")
            return
        }
        let executable = RunningExecutable.path
        let server = try await PlaneServer(configuration: configuration, executable: executable)
        Output.error("photon serve: \(configuration.deployment) on \(configuration.node), https://\(configuration.listenAddress):\(configuration.listenPort)")
        try await server.run()
    }
}

struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Serve this host's local machines to a deployment's management plane ('photon apply' starts it).",
        discussion: """
            Listens only on the deployment's bridge address, over HTTPS with its own certificate (the plane \
            pins it) and token, both kept in <state>/agent/.
            """
    )

    @OptionGroup var blueprint: BlueprintOptions
    @OptionGroup var state: StateOptions

    @Option(help: "Port on the bridge address.")
    var port = AgentProcess.defaultPort

    func run() async throws {
        let loaded = try BlueprintLoader().load(path: blueprint.file)
        guard case .local(let local) = loaded.controlPlane else {
            throw PhotonError("the agent serves local machines, and \(blueprint.file) uses the static driver", help: "a plane reaches static machines itself")
        }
        let directory = state.directory(for: loaded.name.value)
        let credentials = try AgentProcess.credentials(stateDirectory: directory, deployment: loaded.name.value)
        let driver = try Backends.standardDriver(loaded, BackendContext(stateDirectory: directory))
        let address = IPv4Address(local.network.value.network.value + 1).description
        Output.error("photon agent: \(loaded.name.value) on https://\(address):\(port)")
        try await AgentServer(
            driver: driver, identity: credentials.identity, token: credentials.token, address: address, port: port,
            deployment: loaded.name.value
        ).run()
    }
}

/// What `photon serve` starts for each operation and preview: not for people.
struct RunOperationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run-operation", abstract: "Run one operation a management plane's server handed over in a job file.", shouldDisplay: false)

    @Argument(help: ArgumentHelp("The job file photon serve wrote.", valueName: "job"))
    var job: String

    func run() async throws {
        try await PlaneOperation.run(OperationJob.read(job))
    }
}
