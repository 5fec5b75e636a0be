import ArgumentParser
import Blueprints
import Crypto
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

/// The agent process the installer keeps for a deployment's plane.
enum AgentProcess {
    static let defaultPort = 9444

    struct Running {
        var agent: PlaneContext.Agent
        var certificatePEM: String
        var token: String
    }

    /// The agent's TLS pair and token in `<state>/agent/`, made on first use.
    static func credentials(stateDirectory: String, deployment: String) throws -> (identity: ServerIdentity, token: String) {
        let directory = stateDirectory + "/agent"
        let identity = try ServerIdentity.readOrGenerate(
            certificate: directory + "/tls.crt", key: directory + "/tls.key", commonName: "photon-agent-\(deployment)")
        let tokenPath = directory + "/token"
        if let data = FileManager.default.contents(atPath: tokenPath) {
            return (identity, String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let token = SymmetricKey(size: .bits256).withUnsafeBytes { $0.map { String(format: "%02x", $0) }.joined() }
        guard FileManager.default.createFile(atPath: tokenPath, contents: Data(token.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw PhotonError("cannot write \(tokenPath)")
        }
        return (identity, token)
    }

    /// The running agent, started when it is not (a host reboot, say). Nil for the static driver.
    static func ensureRunning(runner: Runner, known: PlaneContext.Agent?) async throws -> Running? {
        guard case .local(let local) = runner.blueprint.controlPlane else { return nil }
        let credentials = try credentials(stateDirectory: runner.stateDirectory, deployment: runner.blueprint.name.value)
        let address = IPv4Address(local.network.value.network.value + 1).description
        let url = "https://\(address):\(defaultPort)"
        let blueprintPath = URL(fileURLWithPath: runner.blueprintPath).standardizedFileURL.path
        let stateDirectory = URL(fileURLWithPath: runner.stateDirectory).standardizedFileURL.path
        if let known, known.url == url, kill(known.pid, 0) == 0, await answers(url: url, credentials: credentials) {
            return Running(agent: known, certificatePEM: credentials.identity.certificate.certificatePEM, token: credentials.token)
        }
        if let known, kill(known.pid, 0) == 0 { stop(known) }
        // An installer killed after it started the agent but before it recorded it leaves one running
        // that no context names: adopt it if it answers, else end it (it would hold the port).
        for pid in processes(stateDirectory: stateDirectory) where pid != known?.pid {
            let orphan = PlaneContext.Agent(url: url, pid: pid, blueprint: blueprintPath)
            if await answers(url: url, credentials: credentials) {
                return Running(agent: orphan, certificatePEM: credentials.identity.certificate.certificatePEM, token: credentials.token)
            }
            stop(orphan, stateDirectory: stateDirectory)
        }
        let executable = RunningExecutable.path
        let log = stateDirectory + "/agent/agent.log"
        let command = [executable, "agent", "-f", blueprintPath, "--state", stateDirectory, "--templates", runner.workspace.directory]
        // Its own session: a Ctrl-C in this terminal must not stop the plane's way to the machines.
        let pid = try HostCommand.spawnDetached(["/bin/sh", "-c", "exec setsid \(ShellQuoting.join(command)) >>\(ShellQuoting.quote(log)) 2>&1"])
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            if await answers(url: url, credentials: credentials) {
                return Running(
                    agent: PlaneContext.Agent(url: url, pid: pid, blueprint: blueprintPath),
                    certificatePEM: credentials.identity.certificate.certificatePEM, token: credentials.token)
            }
            if kill(pid, 0) != 0 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let tail = (try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n").suffix(5).joined(separator: "\n") ?? ""
        throw PhotonError(
            "the agent for \(runner.blueprint.name.value) did not start on \(url)\(tail.isEmpty ? "" : ":\n\(tail)")",
            help: "its log is \(log)")
    }

    static func answers(url: String, credentials: (identity: ServerIdentity, token: String)) async -> Bool {
        guard let client = try? PinnedClient(baseURL: url, certificate: credentials.identity.certificate, token: credentials.token) else { return false }
        let status = try? await client.send(.GET, "/v1/machines", timeout: .seconds(3)).status
        return status == 200
    }

    /// Whether the process runs: it exists and has not ended (a zombie waits only for its parent).
    static func runs(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        guard let end = stat.lastIndex(of: ")") else { return true }
        return !stat[stat.index(after: end)...].hasPrefix(" Z")
    }

    /// The photon agents serving this state folder (`photon agent … --state DIR`), by their command lines.
    static func processes(stateDirectory: String) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry), pid != getpid(),
                let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline")
            else { return nil }
            let arguments = data.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            guard arguments.count > 1, arguments[1] == "agent", let flag = arguments.firstIndex(of: "--state"),
                flag + 1 < arguments.count, arguments[flag + 1] == stateDirectory
            else { return nil }
            return pid
        }
    }

    /// Every agent of this state folder, the recorded one and any a killed installer left unrecorded.
    static func stopAll(stateDirectory: String, known: PlaneContext.Agent?) {
        let directory = URL(fileURLWithPath: stateDirectory).standardizedFileURL.path
        if let known { stop(known) }
        for pid in processes(stateDirectory: directory) {
            stop(PlaneContext.Agent(url: "", pid: pid, blueprint: ""), stateDirectory: directory)
        }
    }

    /// Ends the agent (by its pid, after checking the pid is still a photon agent of this deployment:
    /// its blueprint, or its state folder).
    static func stop(_ agent: PlaneContext.Agent, stateDirectory: String? = nil) {
        let commandLine = (try? String(contentsOfFile: "/proc/\(agent.pid)/cmdline", encoding: .utf8))?.replacingOccurrences(of: "\0", with: " ") ?? ""
        let ours = stateDirectory.map { commandLine.contains(" --state \($0) ") } ?? commandLine.contains(agent.blueprint)
        guard commandLine.contains(" agent "), ours else { return }
        kill(agent.pid, SIGTERM)
        for _ in 0..<50 where runs(agent.pid) { usleep(100_000) }
        if runs(agent.pid) { kill(agent.pid, SIGKILL) }
        var status: Int32 = 0
        _ = waitpid(agent.pid, &status, WNOHANG)
    }
}
