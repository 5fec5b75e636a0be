import Foundation
import PhotonCore

#if canImport(Glibc)
import Glibc
#endif

/// What LXC keeps of a machine on the host after `lxc-stop` has returned: its monitor process, which
/// tears the machine down (its network, its cgroups) after the stop's command socket has closed, and
/// the machine's cgroups, which the monitor leaves behind when one of them is busy at that moment (a
/// process of the machine still being released, a group dockerd made inside). A delete waits for the
/// monitor, removes what it left, and only then reports the machine gone: "destroy leaves nothing"
/// must hold when destroy returns, not a moment later.
struct MachineRemains {
    var machinesDirectory: String
    var name: String

    /// Waits up to `timeout` for the monitor to end and for every cgroup of the machine to be gone,
    /// removing the empty groups the monitor left. Throws, naming what stays, when the time is up.
    func awaitGone(timeout: Duration = .seconds(10)) throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            let monitor = monitorProcess()
            // While the monitor runs it is still tearing down: its groups are its own to remove.
            let groups = monitor == nil ? removeEmptyGroups() : existingGroups()
            if monitor == nil && groups.isEmpty { return }
            guard ContinuousClock.now < deadline else {
                let what =
                    monitor.map { ["its LXC monitor (process \($0)) still runs"] }
                    ?? groups.map { "its cgroup \($0) still holds \(processCount(inGroup: $0)) processes" }
                throw DriverError(
                    machine: name, operation: "delete", "the machine stopped but \(what.joined(separator: "; "))", help: "delete it again in a moment",
                    transient: true)
            }
            usleep(20_000)
        }
    }

    /// The pid of `[lxc monitor] <machines> <name>`, if it runs.
    func monitorProcess() -> pid_t? {
        let title = "[lxc monitor] \(machinesDirectory) \(name)"
        return ProcessTable.entries().first { $0.commandLine.trimmingCharacters(in: .whitespaces) == title }?.pid
    }

    /// The machine's payload and monitor groups in every hierarchy of the host (each v1 controller, or the
    /// unified one), by their real paths.
    func existingGroups() -> [String] {
        let root = "/sys/fs/cgroup"
        let hierarchies = [root] + ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).map { root + "/" + $0 }
        var found = Set<String>()
        for hierarchy in hierarchies {
            for group in ["lxc.payload.\(name)", "lxc.monitor.\(name)"] {
                let path = hierarchy + "/" + group
                var info = stat()
                guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { continue }
                found.insert(URL(fileURLWithPath: path).resolvingSymlinksInPath().path)
            }
        }
        return found.sorted()
    }

    /// Removes each group that holds no process, its subgroups first. A group with processes stays
    /// (the kernel refuses it), so this can never take a running machine's group. Returns the groups
    /// that stay.
    @discardableResult
    func removeEmptyGroups() -> [String] {
        existingGroups().filter { group in
            removeTree(group)
            return FileManager.default.fileExists(atPath: group)
        }
    }

    private func removeTree(_ group: String) {
        for subgroup in subgroups(of: group) { removeTree(subgroup) }
        rmdir(group)
    }

    /// The processes in the group and its subgroups.
    private func processCount(inGroup group: String) -> Int {
        let own = ((try? String(contentsOfFile: group + "/cgroup.procs", encoding: .utf8)) ?? "").split(separator: "\n").count
        return subgroups(of: group).reduce(own) { $0 + processCount(inGroup: $1) }
    }

    /// A group's child groups: the folders among its control files.
    private func subgroups(of group: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: group)) ?? []).map { group + "/" + $0 }.filter { path in
            var info = stat()
            return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
        }
    }
}
