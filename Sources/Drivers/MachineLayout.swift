import Foundation
import PhotonCore

#if canImport(Glibc)
import Glibc
#endif

/// One local machine's files on the host, under `<machines>/<name>/`:
/// `config` (LXC's), `upper/` (the overlay's writable layer over the host's `/`: the machine's own files,
/// owned by the machine's mapped ids), `work/` (overlayfs's), `docker/` (bound on `/var/lib/docker` when
/// the machine runs Docker), `lxc.log` and `console.log`. Its root is mounted elsewhere (``StagedPaths``).
struct MachineLayout {
    var directory: String
    var name: String

    var config: String { directory + "/config" }
    var upper: String { directory + "/upper" }
    var work: String { directory + "/work" }
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
    /// mode and owner of the host's directory they cover, because in the merged view the upper one wins;
    /// owners are the machine's ids on the host (see ``IDMap``).
    func seed(_ seed: Seed, docker: Bool, idMap: IDMap) throws {
        for directory in [self.directory, work] where mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw fileError("cannot make \(directory)")
        }
        try makeDirectory("", idMap: idMap)
        try write("/etc/hostname", seed.name + "\n", idMap: idMap)
        try write(
            "/etc/hosts",
            """
            127.0.0.1\tlocalhost
            ::1\tlocalhost ip6-localhost ip6-loopback
            \(seed.address)\t\(seed.name)

            """, idMap: idMap)
        try write("/etc/ssh/ssh_host_ed25519_key", seed.hostKey.privateKey, mode: 0o600, idMap: idMap)
        try write("/etc/ssh/ssh_host_ed25519_key.pub", seed.hostKey.publicKey + "\n", idMap: idMap)
        // photon's own sshd configuration, independent of the host's (which may not include drop-ins).
        try write(
            "/etc/ssh/sshd_config",
            """
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

            """, idMap: idMap)
        // Root's folder is emptied by the masks: only the deployment's key and plain start-up files show.
        try makeDirectory("/root", mode: 0o700, idMap: idMap)
        try makeDirectory("/root/.ssh", mode: 0o700, idMap: idMap)
        try write("/root/.ssh/authorized_keys", seed.authorizedKey.trimmingCharacters(in: .whitespacesAndNewlines) + "\n", mode: 0o600, idMap: idMap)
        // The host's shell start-up files may do slow or host-specific things on every command.
        try write("/root/.bashrc", "# Written by photon: a plain shell for commands run over SSH.\n", idMap: idMap)
        try write("/root/.profile", "[ -n \"$BASH\" ] && [ -f ~/.bashrc ] && . ~/.bashrc\n", idMap: idMap)
        try write(
            MachineLayout.initPath,
            """
            #!/bin/sh
            # photon's machine init, run by tini (PID 1, which reaps orphans): start sshd, then wait.
            mkdir -p /run/sshd /run/lock
            /usr/sbin/sshd -E /var/log/sshd.log
            exec sleep infinity

            """, mode: 0o755, idMap: idMap)
        if docker {
            if mkdir(self.docker, 0o700) != 0 && errno != EEXIST { throw fileError("cannot make \(self.docker)") }
            chown(self.docker, idMap.host(0), idMap.host(0))
        }
    }

    /// The LXC configuration: the machine's root (mounted by ``MachineRoot`` at its ``StagedPaths``, as are
    /// the host files it binds), its user namespace, fresh
    /// /run, /tmp and /dev/shm, a veth on the deployment's bridge with a fixed address and MAC, limits
    /// from the flavor, the confinement, and what dockerd needs when the machine runs Docker.
    func lxcConfig(
        deployment: String, address: IPv4Address, network: HostNetwork, limits: CgroupLimits, docker: Bool,
        layerFiles: [(source: String, target: String)] = [], confinement: Confinement
    ) -> String {
        let staged = StagedPaths(name: name)
        var lines = [
            "# Written by photon: machine \(name) of deployment \(deployment).",
            "lxc.uts.name = \(name)",
            "lxc.rootfs.path = dir:\(staged.root)",
        ]
        lines += confinement.idMap.lxcLines
        lines += [
            "lxc.autodev = 1",
            "lxc.pty.max = 64",
            "lxc.tty.max = 0",
            // Mounted by LXC (":force"), not left to init: dockerd needs the hierarchies writable, and JVMs and
            // the like size themselves from the limits they read there. In the machine's user namespace
            // "rw" writes only what the namespace owns (its cgroups, its network's settings).
            docker ? "lxc.mount.auto = proc:rw sys:rw cgroup:rw:force" : "lxc.mount.auto = proc:mixed sys:mixed cgroup:mixed:force",
            "lxc.mount.entry = tmpfs run tmpfs rw,nosuid,nodev,mode=755,create=dir 0 0",
            "lxc.mount.entry = tmpfs tmp tmpfs rw,nosuid,nodev,mode=1777,create=dir 0 0",
            "lxc.mount.entry = tmpfs dev/shm tmpfs rw,nosuid,nodev,mode=1777,create=dir 0 0",
        ]
        for (index, file) in layerFiles.enumerated() {
            lines.append("# layer file \(index): \(file.source.replacingOccurrences(of: "\n", with: "?"))")
            lines.append(
                "lxc.mount.entry = \(staged.layer(index)) \(MachineLayout.fstabEscape(String(file.target.dropFirst()))) none ro,bind,nodev,create=file 0 0")
        }
        if docker {
            lines.append("# \(staged.docker) is \(self.docker)")
            lines.append("lxc.mount.entry = \(staged.docker) var/lib/docker none bind,nodev,create=dir 0 0")
        }
        lines += confinement.lxcLines(docker: docker, cgroupVersion: limits.version)
        lines += [
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

    /// Hides what `masks` name in the upper layer. Only while the machine is stopped: overlayfs does not
    /// expect its layers to change under it.
    func hide(_ masks: MachineMasks, idMap: IDMap) throws {
        for path in masks.emptied { try makeDirectory(path, opaque: true, idMap: idMap) }
        for path in masks.absent { try hideHostPath(path, idMap: idMap) }
        try writeShadowWithoutPasswords(idMap: idMap)
    }

    /// The host's /etc/shadow and /etc/gshadow with every password field "*" (no password: logins are by
    /// key), unless the machine has its own already: the host's hashes stay on the host.
    private func writeShadowWithoutPasswords(idMap: IDMap) throws {
        for path in ["/etc/shadow", "/etc/gshadow"] {
            var host = stat(), own = stat()
            guard stat(path, &host) == 0, lstat(upper + path, &own) != 0,
                let text = try? String(contentsOfFile: path, encoding: .utf8)
            else { continue }
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
                var fields = line.split(separator: ":", omittingEmptySubsequences: false)
                if fields.count > 1 { fields[1] = "*" }
                return fields.joined(separator: ":")
            }
            try write(path, lines.joined(separator: "\n"), mode: host.st_mode & 0o7777, group: host.st_gid, idMap: idMap)
        }
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

    /// Writes a file of root's (inside the machine) at `path` in the upper layer.
    func write(_ path: String, _ text: String, mode: mode_t = 0o644, group: gid_t = 0, idMap: IDMap) throws {
        let parent = (path as NSString).deletingLastPathComponent
        try makeDirectory(parent, idMap: idMap)
        let target = upper + path
        let descriptor = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw fileError("cannot write \(target)") }
        defer { close(descriptor) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count, fchown(descriptor, idMap.host(0), idMap.host(group)) == 0, fchmod(descriptor, mode) == 0 else {
            throw fileError("cannot write \(target)")
        }
    }

    /// Makes `path` and its parents in the upper layer with the mode of the host's directories and their
    /// owners as the machine's ids. With `opaque`, nothing of the host's directory shows through it.
    func makeDirectory(_ path: String, mode: mode_t? = nil, opaque: Bool = false, idMap: IDMap) throws {
        var current = ""
        let components = path.split(separator: "/").map(String.init)
        for (position, component) in ([""] + components).enumerated() {
            if position > 0 { current += "/" + component }
            let target = upper + current
            var hostInfo = stat()
            let onHost = stat(current.isEmpty ? "/" : current, &hostInfo) == 0
            let isLast = position == components.count
            let wanted = (isLast ? mode : nil) ?? (onHost ? hostInfo.st_mode & 0o7777 : 0o755)
            var existing = stat()
            if lstat(target, &existing) == 0, existing.st_mode & S_IFMT == S_IFDIR {
                if isLast, let mode { chmod(target, mode) }
                continue
            }
            // A whiteout or a file of the machine's where a folder is needed now.
            if lstat(target, &existing) == 0 { try remove(target) }
            guard mkdir(target, wanted) == 0 else { throw fileError("cannot make \(target)") }
            chmod(target, wanted)
            chown(target, idMap.host(onHost ? hostInfo.st_uid : 0), idMap.host(onHost ? hostInfo.st_gid : 0))
        }
        if opaque {
            let target = upper + current
            guard MachineLayout.setxattr(target, "trusted.overlay.opaque", "y", 1, 0) == 0 else { throw fileError("cannot mark \(target) opaque") }
        }
    }

    /// glibc's setxattr(2) wrapper, which Swift's Glibc module does not import (sys/xattr.h is not in it).
    private static let setxattr: @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeRawPointer, Int, Int32) -> Int32 = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setxattr") else {
            return { _, _, _, _, _ in
                errno = ENOSYS
                return -1
            }
        }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeRawPointer, Int, Int32) -> Int32).self)
    }()

    /// Hides the host's `path` from the machine without removing anything of the machine's: an overlayfs
    /// whiteout where the upper layer has nothing; where the machine made a folder of its own there, that
    /// folder becomes opaque; a file of the machine's there (or on the way) hides the host's already.
    func hideHostPath(_ path: String, idMap: IDMap) throws {
        var current = ""
        var info = stat()
        for component in path.split(separator: "/").dropLast() {
            current += "/" + component
            if lstat(upper + current, &info) != 0 {
                try makeDirectory(current, idMap: idMap)
            } else if info.st_mode & S_IFMT != S_IFDIR {
                return
            }
        }
        let target = upper + path
        if lstat(target, &info) != 0 {
            if mknod(target, S_IFCHR | 0o600, 0) != 0 { throw fileError("cannot hide \(path) from the machine") }
        } else if info.st_mode & S_IFMT == S_IFDIR {
            guard MachineLayout.setxattr(target, "trusted.overlay.opaque", "y", 1, 0) == 0 else { throw fileError("cannot mark \(target) opaque") }
        }
    }

    /// Removes a file or folder of the upper layer (what the machine wrote at a path that is hidden now).
    private func remove(_ target: String) throws {
        do { try FileManager.default.removeItem(atPath: target) } catch {
            throw DriverError(machine: name, operation: "create", "cannot remove \(target): \(error.localizedDescription)")
        }
    }

    func fileError(_ message: String) -> DriverError {
        DriverError(machine: name, operation: "create", "\(message): \(String(cString: strerror(errno)))")
    }
}
