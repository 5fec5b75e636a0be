import Foundation
import PhotonCore

#if canImport(Glibc)
import Glibc
#endif

/// What root inside a local machine tries against the installer host, as one shell script for the
/// security tests: load a module, make and mount the host's disk, write the host's kernel settings,
/// escape through cgroups or file handles, read the installer's secrets, and undo the masks
/// (unmounting, bind mounts, the overlay's own files). Each attempt prints `refused NAME` or
/// `BREACH NAME: what happened`; ``Report`` reads the lines back.
public enum MachineAttacks {
    /// Something of the installer's that no machine may read: a file (`marker` is part of its content)
    /// or a folder (`marker` is the name of a file in it).
    public struct Secret: Sendable {
        public var path: String
        public var marker: String
        public init(path: String, marker: String) {
            self.path = path
            self.marker = marker
        }
    }

    /// The attempts every report must contain (a script that stopped early is no pass).
    public static let attempts = [
        "insmod", "finit_module", "kexec_load", "open_by_handle_at", "mknod-host-disk", "mount-host-disk", "block-devices", "core_pattern",
        "core_pattern-fresh-proc", "sysrq-trigger", "cgroup-release_agent", "shadow-hashes", "unmount-tmp", "bind-root", "overlay-lowerdir",
        "opaque-xattr", "unmount-root",
    ]

    /// The script, for a host whose root file system is on the block device `major:minor`.
    public static func script(secrets: [Secret], hostDisk: (major: UInt32, minor: UInt32)) -> String {
        var lines = [
            "cd /",
            "refused() { echo \"refused $1\"; }",
            "breach() { echo \"BREACH $1: $2\"; }",
            "echo \"capeff $(awk '/^CapEff/ {print $2}' /proc/self/status)\"",
            "echo \"uidmap $(tr -s ' ' < /proc/self/uid_map | sed 's/^ //')\"",
            "work=$(mktemp -d)",
            // A module the kernel would read and reject as malformed (ENOEXEC) if the caller were allowed to load one.
            "printf 'not a module' > $work/attack.ko",
            "out=$(insmod $work/attack.ko 2>&1); case \"$out\" in *'not permitted'*) refused insmod;; *) breach insmod \"$out\";; esac",
            Self.syscall("finit_module", number: 313, arguments: "os.open(os.environ['work'] + '/attack.ko', os.O_RDONLY), b'', 0"),
            Self.syscall("kexec_load", number: 246, arguments: "0, 0, 0, 0"),
            Self.syscall("open_by_handle_at", number: 304, arguments: "os.open('/', os.O_RDONLY), 0, 0"),
            // On the root file system: /tmp and /dev/shm are mounted nodev.
            "disk=/root/.attack-disk",
            "if mknod $disk b \(hostDisk.major) \(hostDisk.minor) 2>/dev/null; then",
            "  if head -c 512 $disk >/dev/null 2>&1; then breach mknod-host-disk 'the host disk opened'; else refused mknod-host-disk; fi",
            "else refused mknod-host-disk; fi",
            "mkdir -p $work/mnt",
            "if [ -b $disk ] && mount -o ro $disk $work/mnt 2>/dev/null; then breach mount-host-disk \"$(ls $work/mnt | head -5 | tr '\\n' ' ')\"; umount $work/mnt; else refused mount-host-disk; fi",
            "rm -f $disk",
            "devices=$(find /dev -type b 2>/dev/null | tr '\\n' ' '); [ -z \"$devices\" ] && refused block-devices || breach block-devices \"$devices\"",
            "pattern=$(cat /proc/sys/kernel/core_pattern)",
            "if printf '%s\\n' \"$pattern\" > /proc/sys/kernel/core_pattern 2>/dev/null; then breach core_pattern 'the host kernel setting was written'; else refused core_pattern; fi",
            "mkdir -p $work/proc",
            "if mount -t proc proc $work/proc 2>/dev/null && printf '%s\\n' \"$pattern\" > $work/proc/sys/kernel/core_pattern 2>/dev/null; then breach core_pattern-fresh-proc 'written through a fresh proc'; else refused core_pattern-fresh-proc; fi",
            "umount $work/proc 2>/dev/null",
            // 'h' only prints the help text to the kernel log.
            "if echo h > /proc/sysrq-trigger 2>/dev/null; then breach sysrq-trigger 'written'; else refused sysrq-trigger; fi",
            "mkdir -p $work/cgroup",
            "if mount -t cgroup -o rdma cgroup $work/cgroup 2>/dev/null && [ -e $work/cgroup/release_agent ] && echo /bin/true > $work/cgroup/release_agent 2>/dev/null; then breach cgroup-release_agent 'release_agent written'; else refused cgroup-release_agent; fi",
            "umount $work/cgroup 2>/dev/null",
            "hashes=$(cut -d: -f2 /etc/shadow 2>/dev/null | grep -v '^[*!]*$' | wc -l); [ \"$hashes\" = 0 ] && refused shadow-hashes || breach shadow-hashes \"$hashes password hashes readable\"",
            "umount -l /tmp 2>/dev/null",
            "leftover=$(ls -A /tmp 2>/dev/null | grep -v \"^$(basename $work)$\" | head -3 | tr '\\n' ' '); [ -z \"$leftover\" ] && refused unmount-tmp || breach unmount-tmp \"the host's /tmp shows: $leftover\"",
            "mkdir -p /var/tmp/attack-root && mount --bind / /var/tmp/attack-root 2>/dev/null",
            "lower=$(grep -o 'lowerdir=[^,]*' /proc/self/mountinfo | head -1 | cut -d= -f2)",
            "if [ -n \"$lower\" ] && ls -A \"$lower\" 2>/dev/null | grep -q .; then breach overlay-lowerdir \"$lower is readable\"; else refused overlay-lowerdir; fi",
            Self.syscall("opaque-xattr", name: "removexattr", arguments: "b'/root', b'trusted.overlay.opaque'"),
        ]
        for (index, secret) in secrets.enumerated() {
            let path = ShellQuoting.quote(secret.path), marker = ShellQuoting.quote(secret.marker)
            let bound = ShellQuoting.quote("/var/tmp/attack-root" + secret.path)
            lines += [
                "if cat \(path) 2>/dev/null | grep -qF \(marker) || ls -A \(path) 2>/dev/null | grep -qF \(marker); then breach secret-\(index) \(path); else refused secret-\(index); fi",
                "if cat \(bound) 2>/dev/null | grep -qF \(marker) || ls -A \(bound) 2>/dev/null | grep -qF \(marker); then breach bind-root 'a bind of / shows '\(path); fi",
                // Making the hidden folder anew shows an empty folder, not the host's.
                "if mkdir -p \(path) 2>/dev/null && ls -A \(path) | grep -qF \(marker); then breach recreate-\(index) \(path); fi; rmdir \(path) 2>/dev/null",
                "if unshare -m sh -c 'umount -l / 2>/dev/null; cat \"$1\" 2>/dev/null; ls -A \"$1\" 2>/dev/null' sh \(path) | grep -qF \(marker); then breach unmount-root \(path); fi",
            ]
        }
        lines += [
            "refused bind-root",
            "refused unmount-root",
            "umount /var/tmp/attack-root 2>/dev/null; rmdir /var/tmp/attack-root",
            "rm -rf $work",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    /// A raw system call from python3: refused when it fails with EPERM (what a missing capability or
    /// the seccomp policy answer), a breach when it succeeds or fails for another reason (the kernel
    /// looked at the arguments, so the caller was allowed to make it).
    static func syscall(_ name: String, number: Int, arguments: String) -> String {
        let program =
            "import ctypes, os; libc = ctypes.CDLL(None, use_errno=True); r = libc.syscall(\(number), \(arguments)); "
            + "e = ctypes.get_errno(); print('refused \(name)' if r < 0 and e == 1 else 'BREACH \(name): result %d errno %d' % (r, e))"
        return "work=$work python3 -c \(ShellQuoting.quote(program))"
    }

    /// A libc call from python3 that must fail (with EPERM, EACCES, ENODATA or EOPNOTSUPP).
    static func syscall(_ name: String, name function: String, arguments: String) -> String {
        let program =
            "import ctypes; libc = ctypes.CDLL(None, use_errno=True); r = libc.\(function)(\(arguments)); e = ctypes.get_errno(); "
            + "print('refused \(name)' if r < 0 and e in (1, 13, 61, 95) else 'BREACH \(name): result %d errno %d' % (r, e))"
        return "python3 -c \(ShellQuoting.quote(program))"
    }

    /// What a run of the script reported.
    public struct Report: Sendable {
        public var refused: Set<String> = []
        public var breaches: [String] = []
        /// The effective capabilities, by name.
        public var capabilities: Set<String> = []
        /// `/proc/self/uid_map` inside: "0 1000000 65536" when root inside is not root outside.
        public var uidMap = ""

        public init(_ output: String) {
            for line in output.split(separator: "\n").map(String.init) {
                if line.hasPrefix("refused ") { refused.insert(String(line.dropFirst(8))) }
                if line.hasPrefix("BREACH ") { breaches.append(String(line.dropFirst(7))) }
                if line.hasPrefix("capeff "), let mask = UInt64(line.dropFirst(7), radix: 16) { capabilities = MachineAttacks.capabilities(in: mask) }
                if line.hasPrefix("uidmap ") { uidMap = String(line.dropFirst(7)) }
            }
        }

        /// Attempts that reported nothing (the script stopped, or a line went missing).
        public var missing: [String] {
            MachineAttacks.attempts.filter { attempt in !refused.contains(attempt) && !breaches.contains { $0.hasPrefix(attempt) } }
        }
    }

    /// Linux's capability numbers (linux/capability.h).
    public static let capabilityNames = [
        "chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid", "setpcap", "linux_immutable",
        "net_bind_service", "net_broadcast", "net_admin", "net_raw", "ipc_lock", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot",
        "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time", "sys_tty_config", "mknod", "lease",
        "audit_write", "audit_control", "setfcap", "mac_override", "mac_admin", "syslog", "wake_alarm", "block_suspend", "audit_read",
        "perfmon", "bpf", "checkpoint_restore",
    ]

    /// The names of the bits set in a `CapEff:` mask.
    public static func capabilities(in mask: UInt64) -> Set<String> {
        Set(capabilityNames.enumerated().filter { mask & (1 << UInt64($0.offset)) != 0 }.map(\.element))
    }

    /// The major and minor numbers of the device holding the host's `/`.
    public static func hostRootDevice() -> (major: UInt32, minor: UInt32) {
        var info = stat()
        stat("/", &info)
        let device = UInt64(info.st_dev)
        return (UInt32((device >> 8) & 0xfff | (device >> 32) & ~0xfff), UInt32(device & 0xff | (device >> 12) & ~0xff))
    }
}
