import Blueprints
import Foundation
import PhotonCore
#if canImport(Glibc)
import Glibc
#endif

/// One local machine's files on the host, under `<machines>/<name>/`:
/// `config` (LXC's), `upper/` (the overlay's writable layer over the host's `/`: the machine's own files),
/// `work/` (overlayfs's), `docker/` (bound on `/var/lib/docker` when the machine runs Docker),
/// `lxc.log` and `console.log`.
struct MachineLayout {
    var directory: String
    var name: String

    var config: String { directory + "/config" }
    var upper: String { directory + "/upper" }
    var docker: String { directory + "/docker" }
    var console: String { directory + "/console.log" }
    var lxcLog: String { directory + "/lxc.log" }
    var publicHostKey: String { upper + "/etc/ssh/ssh_host_ed25519_key.pub" }

    static let initPath = "/usr/local/sbin/photon-machine-init"
    static let tini = "/usr/bin/tini"

    /// What a new machine needs; everything else comes from the host's root through the overlay.
    struct Seed {
        var name: String
        var address: IPv4Address
        var network: IPv4Network
        var hostKey: (privateKey: String, publicKey: String)
        var authorizedKey: String
    }

    /// Writes the machine's own files into its upper layer before it first starts. Directories take the
    /// mode and owner of the host's directory they cover, because in the merged view the upper one wins.
    func seed(_ seed: Seed, docker: Bool) throws {
        try makeDirectory("")
        try write("/etc/hostname", seed.name + "\n")
        try write("/etc/hosts", """
            127.0.0.1\tlocalhost
            ::1\tlocalhost ip6-localhost ip6-loopback
            \(seed.address)\t\(seed.name)

            """)
        try write("/etc/ssh/ssh_host_ed25519_key", seed.hostKey.privateKey, mode: 0o600)
        try write("/etc/ssh/ssh_host_ed25519_key.pub", seed.hostKey.publicKey + "\n")
        // The host's other host keys must not show through: every machine would share them.
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/etc/ssh")) ?? []
        where entry.hasPrefix("ssh_host_") && !entry.hasPrefix("ssh_host_ed25519_key") {
            try whiteout("/etc/ssh/" + entry)
        }
        // photon's own sshd configuration, independent of the host's (which may not include drop-ins).
        try write("/etc/ssh/sshd_config", """
            # Written by photon for machine \(seed.name).
            Port 22
            HostKey /etc/ssh/ssh_host_ed25519_key
            PermitRootLogin prohibit-password
            PubkeyAuthentication yes
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            UsePAM no
            UseDNS no
            PrintMotd no
            X11Forwarding no
            MaxStartups 100:30:200
            MaxSessions 64
            AcceptEnv LANG LC_* PHOTON_*
            Subsystem sftp internal-sftp

            """)
        // Each dockerd must make its own engine key rather than read the host's.
        if FileManager.default.fileExists(atPath: "/etc/docker/key.json") { try whiteout("/etc/docker/key.json") }
        // Opaque: none of the host's keys or authorized_keys show through, only the deployment's key.
        try makeDirectory("/root", mode: 0o700)
        try makeDirectory("/root/.ssh", mode: 0o700, opaque: true)
        try write("/root/.ssh/authorized_keys", seed.authorizedKey.trimmingCharacters(in: .whitespacesAndNewlines) + "\n", mode: 0o600)
        for home in (try? FileManager.default.contentsOfDirectory(atPath: "/home")) ?? []
        where FileManager.default.fileExists(atPath: "/home/\(home)/.ssh") {
            try makeDirectory("/home/\(home)/.ssh", opaque: true)
        }
        // The host's shell start-up files may do slow or host-specific things on every command.
        try write("/root/.bashrc", "# Written by photon: a plain shell for commands run over SSH.\n")
        try write("/root/.profile", "[ -n \"$BASH\" ] && [ -f ~/.bashrc ] && . ~/.bashrc\n")
        try write(MachineLayout.initPath, """
            #!/bin/sh
            # photon's machine init, run by tini (PID 1, which reaps orphans): start sshd, then wait.
            mkdir -p /run/sshd /run/lock
            /usr/sbin/sshd -E /var/log/sshd.log
            exec sleep infinity

            """, mode: 0o755)
        if docker { try FileManager.default.createDirectory(atPath: self.docker, withIntermediateDirectories: true) }
    }

    /// The LXC configuration: an overlay of the host's root, fresh /run, /tmp and /dev/shm, masks over
    /// photon's state, a veth on the deployment's bridge with a fixed address and MAC, limits from the
    /// flavor, and what dockerd needs when the machine runs Docker.
    func lxcConfig(deployment: String, address: IPv4Address, network: HostNetwork, limits: CgroupLimits, docker: Bool, masks: [String],
                   layerFiles: [(source: String, target: String)] = []) -> String {
        var lines = [
            "# Written by photon: machine \(name) of deployment \(deployment).",
            "lxc.uts.name = \(name)",
            "lxc.rootfs.path = overlay:/:\(upper)",
            "lxc.autodev = 1",
            "lxc.pty.max = 64",
            "lxc.tty.max = 0",
            // Mounted by LXC (":force"), not left to init: dockerd needs the hierarchies writable, and JVMs and
            // the like size themselves from the limits they read there.
            docker ? "lxc.mount.auto = proc:rw sys:rw cgroup:rw:force" : "lxc.mount.auto = proc:mixed sys:mixed cgroup:mixed:force",
            "lxc.mount.entry = tmpfs run tmpfs rw,nosuid,nodev,mode=755,create=dir 0 0",
            "lxc.mount.entry = tmpfs tmp tmpfs rw,nosuid,nodev,mode=1777,create=dir 0 0",
            "lxc.mount.entry = tmpfs dev/shm tmpfs rw,nosuid,nodev,mode=1777,create=dir 0 0",
        ]
        for mask in masks {
            lines.append("lxc.mount.entry = tmpfs \(MachineLayout.fstabEscape(String(mask.drop(while: { $0 == "/" })))) tmpfs ro,nosuid,nodev,mode=700,size=4k,create=dir 0 0")
        }
        for file in layerFiles {
            lines.append("lxc.mount.entry = \(MachineLayout.fstabEscape(file.source)) \(MachineLayout.fstabEscape(String(file.target.dropFirst()))) none ro,bind,create=file 0 0")
        }
        if docker {
            lines.append("lxc.mount.entry = \(MachineLayout.fstabEscape(self.docker)) var/lib/docker none bind,create=dir 0 0")
            lines.append("lxc.cgroup\(limits.version == .v2 ? "2" : "").devices.allow = a")
        }
        lines += [
            "lxc.apparmor.profile = unconfined",
            "lxc.cap.drop =",
            "lxc.net.0.type = veth",
            "lxc.net.0.link = \(network.bridge)",
            "lxc.net.0.flags = up",
            "lxc.net.0.name = eth0",
            "lxc.net.0.veth.pair = \(HostNetwork.vethName(for: address))",
            "lxc.net.0.ipv4.address = \(address)/\(network.network.prefixLength)",
            "lxc.net.0.hwaddr = \(HostNetwork.macAddress(for: address))",
            "lxc.init.cmd = \(MachineLayout.tini) -- \(MachineLayout.initPath)",
            "lxc.log.file = \(lxcLog)",
            "lxc.log.level = WARN",
            "lxc.console.logfile = \(console)",
        ]
        lines += limits.configLines
        return lines.joined(separator: "\n") + "\n"
    }

    /// The address recorded in an existing machine's configuration.
    static func address(inConfig text: String) -> IPv4Address? {
        for line in text.split(separator: "\n") where line.hasPrefix("lxc.net.0.ipv4.address") {
            guard let value = line.split(separator: "=").last?.trimmingCharacters(in: .whitespaces).split(separator: "/").first else { continue }
            return IPv4Address(value)
        }
        return nil
    }

    /// fstab fields cannot hold blanks: octal escapes, as mount(8) reads them.
    static func fstabEscape(_ path: String) -> String {
        path.replacingOccurrences(of: "\\", with: "\\134").replacingOccurrences(of: " ", with: "\\040").replacingOccurrences(of: "\t", with: "\\011")
    }

    // MARK: Files in the upper layer

    private func write(_ path: String, _ text: String, mode: mode_t = 0o644) throws {
        let parent = (path as NSString).deletingLastPathComponent
        try makeDirectory(parent)
        let target = upper + path
        let descriptor = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw fileError("cannot write \(target)") }
        defer { close(descriptor) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count, fchmod(descriptor, mode) == 0 else { throw fileError("cannot write \(target)") }
    }

    /// Makes `path` and its parents in the upper layer with the owner and mode of the host's directories.
    private func makeDirectory(_ path: String, mode: mode_t? = nil, opaque: Bool = false) throws {
        var current = ""
        let components = path.split(separator: "/").map(String.init)
        for (position, component) in ([""] + components).enumerated() {
            if position > 0 { current += "/" + component }
            let target = upper + current
            var hostInfo = stat()
            let onHost = stat(current.isEmpty ? "/" : current, &hostInfo) == 0
            let isLast = position == components.count
            let wanted = (isLast ? mode : nil) ?? (onHost ? hostInfo.st_mode & 0o7777 : 0o755)
            if mkdir(target, wanted) != 0 && errno != EEXIST { throw fileError("cannot make \(target)") }
            chmod(target, wanted)
            if onHost { chown(target, hostInfo.st_uid, hostInfo.st_gid) }
        }
        if opaque {
            let target = upper + current
            guard MachineLayout.setxattr(target, "trusted.overlay.opaque", "y", 1, 0) == 0 else { throw fileError("cannot mark \(target) opaque") }
        }
    }

    /// glibc's setxattr(2) wrapper, which Swift's Glibc module does not import (sys/xattr.h is not in it).
    private static let setxattr: @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeRawPointer, Int, Int32) -> Int32 = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setxattr") else {
            return { _, _, _, _, _ in errno = ENOSYS; return -1 }
        }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeRawPointer, Int, Int32) -> Int32).self)
    }()

    /// An overlayfs whiteout: the host's file does not exist inside the machine.
    private func whiteout(_ path: String) throws {
        try makeDirectory((path as NSString).deletingLastPathComponent)
        let target = upper + path
        if mknod(target, S_IFCHR | 0o600, 0) != 0 && errno != EEXIST { throw fileError("cannot hide \(path) from the machine") }
    }

    private func fileError(_ message: String) -> DriverError {
        DriverError(machine: name, operation: "create", "\(message): \(String(cString: strerror(errno)))")
    }
}
