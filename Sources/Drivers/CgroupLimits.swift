import Foundation
import PhotonCore

/// A flavor as cgroup limits: memory, a CPU quota and a process count. Disk size is not enforced by the
/// local driver (the machine's writable layer is a directory on the host's filesystem).
public struct CgroupLimits: Sendable, Hashable {
    public enum Version: String, Sendable {
        /// v1 controllers, as on hosts with a hybrid hierarchy (this project's machines).
        case v1
        /// The unified hierarchy only.
        case v2
    }

    public var version: Version
    public var memoryBytes: UInt64
    /// Microseconds of CPU per 100 ms period: 1 CPU is 100000.
    public var cpuQuota: Int
    public static let cpuPeriod = 100_000
    public var pids: Int

    public init(flavor: Flavor, version: Version) {
        self.version = version
        memoryBytes = flavor.memory.bytes
        cpuQuota = flavor.milliCPU * 100
        pids = CgroupLimits.pids(for: flavor)
    }

    /// Processes allowed: 1024 per GiB of memory, at least 1024. Enough for dockerd, a JVM or etcd with
    /// room for their threads; a fork bomb stops there instead of taking the host.
    public static func pids(for flavor: Flavor) -> Int {
        max(1024, Int(flavor.memory.bytes >> 30) * 1024)
    }

    /// The host's cgroup layout: v2 when the root is the unified hierarchy, v1 otherwise (including hybrid).
    public static func hostVersion() -> Version {
        FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers") ? .v2 : .v1
    }

    var configLines: [String] {
        switch version {
        case .v1:
            return [
                "lxc.cgroup.memory.limit_in_bytes = \(memoryBytes)",
                "lxc.cgroup.cpu.cfs_period_us = \(CgroupLimits.cpuPeriod)",
                "lxc.cgroup.cpu.cfs_quota_us = \(cpuQuota)",
                "lxc.cgroup.pids.max = \(pids)",
            ]
        case .v2:
            return [
                "lxc.cgroup2.memory.max = \(memoryBytes)",
                "lxc.cgroup2.cpu.max = \(cpuQuota) \(CgroupLimits.cpuPeriod)",
                "lxc.cgroup2.pids.max = \(pids)",
            ]
        }
    }

    /// The folder of a machine's cgroup (LXC's `lxc.payload.<name>`) in a controller's hierarchy (v1), or
    /// in the unified hierarchy (v2, where `controller` does not matter).
    public static func payloadGroup(machine name: String, controller: String, version: Version = hostVersion()) -> String {
        version == .v2 ? "/sys/fs/cgroup/lxc.payload.\(name)" : "/sys/fs/cgroup/\(controller)/lxc.payload.\(name)"
    }

    /// The limits in force for a running machine, read back from the host's cgroup files.
    public static func read(machine name: String) -> CgroupLimits? {
        let version = hostVersion()
        func value(_ controller: String, _ file: String) -> String? {
            let path = payloadGroup(machine: name, controller: controller, version: version) + "/" + file
            return (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        switch version {
        case .v1:
            guard let memory = value("memory", "memory.limit_in_bytes").flatMap(UInt64.init),
                let quota = value("cpu", "cpu.cfs_quota_us").flatMap(Int.init),
                let pids = value("pids", "pids.max").flatMap(Int.init)
            else { return nil }
            return CgroupLimits(version: .v1, memoryBytes: memory, cpuQuota: quota, pids: pids)
        case .v2:
            guard let memory = value("memory", "memory.max").flatMap(UInt64.init),
                let quota = value("cpu", "cpu.max")?.split(separator: " ").first.flatMap({ Int($0) }),
                let pids = value("pids", "pids.max").flatMap(Int.init)
            else { return nil }
            return CgroupLimits(version: .v2, memoryBytes: memory, cpuQuota: quota, pids: pids)
        }
    }

    public init(version: Version, memoryBytes: UInt64, cpuQuota: Int, pids: Int) {
        self.version = version
        self.memoryBytes = memoryBytes
        self.cpuQuota = cpuQuota
        self.pids = pids
    }
}
