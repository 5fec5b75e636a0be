import Blueprints
import Crypto
import Drivers
import Foundation
import PhotonCore
import PlaneAPI
import StateStore

/// The agent process the installer keeps for a deployment's plane.
package enum AgentProcess {
    package static let defaultPort = 9444

    package struct Running {
        package var agent: PlaneContext.Agent
        package var certificatePEM: String
        package var token: String
    }

    /// The agent's TLS pair and token in `<state>/agent/`, made on first use.
    package static func credentials(stateDirectory: String, deployment: String) throws -> (identity: ServerIdentity, token: String) {
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
    package static func ensureRunning(runner: Runner, known: PlaneContext.Agent?) async throws -> Running? {
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

    package static func answers(url: String, credentials: (identity: ServerIdentity, token: String)) async -> Bool {
        guard let client = try? PinnedClient(baseURL: url, certificate: credentials.identity.certificate, token: credentials.token) else { return false }
        let status = try? await client.send(.GET, "/v1/machines", timeout: .seconds(3)).status
        return status == 200
    }

    /// Whether the process runs: it exists and has not ended (a zombie waits only for its parent).
    package static func runs(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        guard let end = stat.lastIndex(of: ")") else { return true }
        return !stat[stat.index(after: end)...].hasPrefix(" Z")
    }

    /// The photon agents serving this state folder (`photon agent … --state DIR`), by their command lines.
    package static func processes(stateDirectory: String) -> [pid_t] {
        ProcessTable.entries().compactMap { process -> pid_t? in
            let arguments = process.arguments
            guard process.pid != getpid(), arguments.count > 1, arguments[1] == "agent", let flag = arguments.firstIndex(of: "--state"),
                flag + 1 < arguments.count, arguments[flag + 1] == stateDirectory
            else { return nil }
            return process.pid
        }
    }

    /// Every agent of this state folder, the recorded one and any a killed installer left unrecorded.
    package static func stopAll(stateDirectory: String, known: PlaneContext.Agent?) {
        let directory = URL(fileURLWithPath: stateDirectory).standardizedFileURL.path
        if let known { stop(known) }
        for pid in processes(stateDirectory: directory) {
            stop(PlaneContext.Agent(url: "", pid: pid, blueprint: ""), stateDirectory: directory)
        }
    }

    /// Ends the agent (by its pid, after checking the pid is still a photon agent of this deployment:
    /// its blueprint, or its state folder).
    package static func stop(_ agent: PlaneContext.Agent, stateDirectory: String? = nil) {
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
