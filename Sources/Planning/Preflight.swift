import Blueprints
import Foundation
import Kinds
import PhotonCore

/// Preflight: the kinds' requirements, checked before anything changes. One error per requirement a
/// machine lacks, naming the kind, the cluster, the machines, what was expected and how to provide it.
public enum Preflight {
    /// A requirement of one cluster's kind, and that cluster's machines it applies to.
    public struct Need: Sendable {
        public var group: ResolvedGroup
        public var requirement: Requirement
        public var roles: [ResolvedRole]
    }

    /// Every requirement of the deployment's groups that applies to at least one machine.
    public static func needs(_ deployment: ResolvedDeployment) -> [Need] {
        deployment.groups.flatMap { group in
            group.kind.requirements.compactMap { requirement in
                let roles = group.roles.filter { $0.count > 0 && requirement.applies(to: $0.declaration.name) }
                return roles.isEmpty ? nil : Need(group: group, requirement: requirement, roles: roles)
            }
        }
    }

    /// The error for a requirement missing on `machines` (with what each said, when it said something).
    public static func problem(_ need: Need, machines: String, found: String?, deployment: ResolvedDeployment) -> Diagnostic {
        let cluster = deployment.blueprint.clusters.first { $0.name.value == need.group.name }
        let what = need.group.isManagement ? "the management plane" : "cluster \(need.group.name)"
        return Diagnostic(
            "kind \(need.group.kind.name) needs \(need.requirement.expectation) on \(machines) of \(what)" + (found.map { " (found: \($0))" } ?? ""),
            at: cluster?.location ?? deployment.blueprint.management?.location ?? deployment.blueprint.location,
            help: need.requirement.help)
    }

    // MARK: Local machines

    /// Checks for local machines, on this host: they run its kernel and see its root under the
    /// blueprint's layers; their memory is their flavor's; their network (ports) is their own.
    public static func local(_ deployment: ResolvedDeployment, layers: [String], host: HostView = HostView()) -> [Diagnostic] {
        needs(deployment).compactMap { need in
            let roles = need.roles.map(\.declaration.name).joined(separator: ", ")
            let machines = "the machines of \(roles)"
            switch need.requirement.check {
            case .command(let name, let arguments, let pattern):
                let found = host.program(name, roots: layers + [""])
                guard let found else {
                    var diagnostic = problem(need, machines: machines, found: nil, deployment: deployment)
                    diagnostic.help =
                        (need.requirement.help.map { $0 + "; " } ?? "")
                        + "local machines see this host's programs and the blueprint's layers (controlPlane.layers)"
                    return diagnostic
                }
                guard let pattern else { return nil }
                let output = host.output([found] + arguments)
                if output.split(separator: "\n").contains(where: { $0.range(of: pattern, options: .regularExpression) != nil }) { return nil }
                return problem(need, machines: machines, found: String(output.split(separator: "\n").first ?? "no output"), deployment: deployment)
            case .file(let path):
                if (layers + [""]).contains(where: { host.exists($0 + path) }) { return nil }
                return problem(need, machines: machines, found: nil, deployment: deployment)
            case .module(let name):
                if host.exists("/sys/module/\(name)") || host.filesystems().contains(name) { return nil }
                var diagnostic = problem(need, machines: machines, found: nil, deployment: deployment)
                diagnostic.help = (need.requirement.help.map { $0 + "; " } ?? "") + "local machines run this host's kernel: modprobe \(name) here"
                return diagnostic
            case .memory(let mebibytes):
                let small = need.roles.filter { $0.flavor.memory.bytes < UInt64(mebibytes) * 1_048_576 }
                guard !small.isEmpty else { return nil }
                var diagnostic = problem(
                    need, machines: "the machines of \(small.map(\.declaration.name).joined(separator: ", "))",
                    found: small.map { "\($0.declaration.name): \($0.flavor.name), \($0.flavor.memory)" }.joined(separator: "; "), deployment: deployment)
                diagnostic.help = "give those roles a flavor with more memory"
                return diagnostic
            case .freePort:
                return nil
            }
        }
    }

    /// What local preflight reads of this host; a test can give its own.
    public struct HostView: Sendable {
        public var exists: @Sendable (String) -> Bool
        public var output: @Sendable ([String]) -> String
        public var filesystems: @Sendable () -> Set<String>
        public var path: [String]

        public init(
            exists: @escaping @Sendable (String) -> Bool = { FileManager.default.fileExists(atPath: $0) },
            output: @escaping @Sendable ([String]) -> String = { arguments in
                guard let result = try? HostCommand.runBlocking(arguments) else { return "" }
                return result.stdout + result.stderr
            },
            filesystems: @escaping @Sendable () -> Set<String> = {
                let text = (try? String(contentsOfFile: "/proc/filesystems", encoding: .utf8)) ?? ""
                return Set(text.split(separator: "\n").compactMap { $0.split(whereSeparator: \.isWhitespace).last.map(String.init) })
            },
            path: [String] = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        ) {
            self.exists = exists
            self.output = output
            self.filesystems = filesystems
            self.path = path
        }

        /// The program's path under the first root that has it.
        func program(_ name: String, roots: [String]) -> String? {
            for root in roots {
                for directory in path where exists("\(root)\(directory)/\(name)") { return "\(root)\(directory)/\(name)" }
            }
            return nil
        }
    }

    // MARK: Machines over SSH

    /// A POSIX shell script that checks `requirements` and prints `missing INDEX DETAIL` for each one the
    /// machine lacks (INDEX into `requirements`). Every name is quoted; nothing is changed.
    public static func script(_ requirements: [Requirement]) -> String {
        var lines = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH"]
        for (index, requirement) in requirements.enumerated() {
            let miss = "printf 'missing \(index) %s\\n'"
            switch requirement.check {
            case .command(let name, let arguments, let pattern):
                let quoted = ShellQuoting.quote(name)
                if let pattern {
                    let command = ([name] + arguments).map(ShellQuoting.quote).joined(separator: " ")
                    lines.append(
                        "if ! command -v \(quoted) >/dev/null 2>&1; then \(miss) 'not on PATH'; "
                            + "else out=$(\(command) 2>&1 | head -n 5); printf '%s\\n' \"$out\" | grep -Eq \(ShellQuoting.quote(pattern)) "
                            + "|| \(miss) \"$(printf '%s' \"$out\" | head -n 1 | tr -cd '[:print:]' | cut -c1-120)\"; fi")
                } else {
                    lines.append("command -v \(quoted) >/dev/null 2>&1 || \(miss) 'not on PATH'")
                }
            case .file(let path):
                lines.append("[ -e \(ShellQuoting.quote(path)) ] || \(miss) 'no such file'")
            case .module(let name):
                let quoted = ShellQuoting.quote(name)
                lines.append("[ -d /sys/module/\(quoted) ] || grep -qw \(quoted) /proc/filesystems 2>/dev/null || \(miss) 'not loaded'")
            case .memory(let mebibytes):
                lines.append(
                    "m=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo); [ \"${m:-0}\" -ge \(mebibytes) ] || \(miss) \"${m:-0} MiB\"")
            case .freePort(let port):
                let hex = String(format: "%04X", port)
                lines.append(
                    "awk 'NR > 1 && $4 == \"0A\" { split($2, a, \":\"); if (a[2] == \"\(hex)\") found = 1 } END { exit !found }' "
                        + "/proc/net/tcp /proc/net/tcp6 2>/dev/null && \(miss) 'in use'")
            }
        }
        lines.append("exit 0")
        return lines.joined(separator: "\n")
    }

    /// The failures a ``script(_:)`` printed: index into its requirements, and what the machine said.
    public static func failures(in output: String) -> [(index: Int, detail: String)] {
        output.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ", maxSplits: 2)
            guard parts.count >= 2, parts[0] == "missing", let index = Int(parts[1]) else { return nil }
            return (index, parts.count > 2 ? String(parts[2]) : "")
        }
    }
}
