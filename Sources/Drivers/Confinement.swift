import Foundation

/// What keeps root inside a local machine from the host: a user namespace (root inside is an unprivileged
/// id range outside), capabilities dropped, LXC's default seccomp policy, a device allowlist, and
/// AppArmor's generated profile where the host has AppArmor.
struct Confinement: Sendable {
    var idMap: IDMap
    /// LXC's seccomp policy file, written by the driver beside the machines.
    var seccompProfile: String
    var appArmor: Bool

    /// Capabilities no machine needs: loading modules, raw I/O, rebooting, setting the clock, changing or
    /// bypassing a security module, the kernel log, wake alarms. (In the user namespace most of them
    /// already mean nothing outside; dropping them leaves nothing to find.)
    static let droppedCapabilities = ["mac_admin", "mac_override", "sys_boot", "sys_module", "sys_rawio", "sys_time", "syslog", "wake_alarm"]

    /// LXC's default policy (Debian's `/usr/share/lxc/config/common.seccomp`): no kexec, no
    /// open_by_handle_at (which walks past the mount namespace), no module calls, no forced unmounts.
    static let seccompPolicy = """
        2
        denylist
        reject_force_umount
        [all]
        kexec_load errno 1
        open_by_handle_at errno 1
        init_module errno 1
        finit_module errno 1
        delete_module errno 1

        """

    /// Character devices every machine may open: null, zero, full, random, urandom, tty, console, ptmx
    /// and the pseudo-terminals. Docker machines add tun (runc allows it in every container) and fuse
    /// (fuse-overlayfs). Nothing else, and no block device.
    static func allowedDevices(docker: Bool) -> [String] {
        let common = ["c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm"]
        return docker ? common + ["c 10:200 rwm", "c 10:229 rwm"] : common
    }

    /// Whether the host enforces AppArmor (the kernel has it enabled and LXC can load profiles).
    static func hostHasAppArmor() -> Bool {
        let enabled = (try? String(contentsOfFile: "/sys/module/apparmor/parameters/enabled", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return enabled == "Y" && FileManager.default.isExecutableFile(atPath: "/sbin/apparmor_parser")
    }

    func lxcLines(docker: Bool, cgroupVersion: CgroupLimits.Version) -> [String] {
        let devices = cgroupVersion == .v2 ? "lxc.cgroup2.devices" : "lxc.cgroup.devices"
        var lines = [
            "lxc.cap.drop = \(Confinement.droppedCapabilities.joined(separator: " "))", "lxc.seccomp.profile = \(seccompProfile)",
            "\(devices).deny = a",
        ]
        lines += Confinement.allowedDevices(docker: docker).map { "\(devices).allow = \($0)" }
        if appArmor {
            // LXC's generated profile; dockerd mounts inside, which the nesting rules allow.
            lines.append("lxc.apparmor.profile = generated")
            if docker { lines.append("lxc.apparmor.allow_nesting = 1") }
        } else {
            lines.append("lxc.apparmor.profile = unconfined")
        }
        return lines
    }
}
