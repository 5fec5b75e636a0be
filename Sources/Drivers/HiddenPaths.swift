import Foundation
import PhotonCore

#if canImport(Glibc)
import Glibc
#endif

/// A path on the installer host that no machine may see: what the installer keeps (photon's state with
/// the deployment's keys, the blueprint's folder, a secret or key file the blueprint names).
public struct HiddenPath: Sendable, Hashable, CustomStringConvertible {
    public enum Reason: String, Sendable, Hashable {
        case state = "photon's state"
        case blueprint = "the blueprint's folder"
        case secretFile = "a secret file"
        case keyFile = "a key file"
        /// Recorded on this host by another deployment (any of the above).
        case otherDeployment = "a path another deployment hides"
    }

    /// Absolute.
    public var path: String
    public var reason: Reason
    /// Where the blueprint names it ("photon.yaml:7:10"), when it does.
    public var source: String?

    public init(_ path: String, reason: Reason, source: String? = nil) {
        self.path = path
        self.reason = reason
        self.source = source
    }

    public var description: String { "\(reason.rawValue) \(path)\(source.map { " (\($0))" } ?? "")" }
}

/// What a machine's root hides of the host's: entries of its upper layer, which are part of the
/// machine's root file system (root inside cannot unmount them to see what is below, as it could a
/// tmpfs mounted on top).
struct MachineMasks: Equatable {
    /// Paths that do not exist inside (overlayfs whiteouts).
    var absent: [String]
    /// Directories that are empty inside except for what the machine writes (opaque directories).
    var emptied: [String]

    /// The host's folders no machine needs and which hold people's and services' files. `/tmp`, `/run`,
    /// `/var/tmp` and `/dev` get fresh file systems in every machine; emptied, unmounting those shows nothing.
    static let emptiedByDefault = ["/root", "/home", "/tmp", "/var/tmp", "/run", "/dev"]

    /// The host's files that are its own: LXC's and photon's folders, container engines' data (the
    /// host's images and swarm keys), host SSH keys other than the one photon writes, shadow backups.
    static func absentByDefault() -> [String] {
        var paths = [
            "/var/lib/lxc", "/var/cache/lxc", "/var/lib/photon", "/var/lib/docker", "/var/lib/containerd",
            "/etc/docker/key.json", "/etc/shadow-", "/etc/gshadow-",
        ]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/etc/ssh")) ?? []
        where entry.hasPrefix("ssh_host_") && !entry.hasPrefix("ssh_host_ed25519_key") {
            paths.append("/etc/ssh/" + entry)
        }
        return paths
    }

    /// Folders machines run from: hiding one of them (or a folder above one) would leave a machine
    /// without its programs or its configuration.
    static let needed = ["/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/var/lib", "/var/log"]

    /// The masks for `hidden` (which must exist to matter): each resolved to its real path, since a
    /// machine sees the host's symbolic links too, and dropped when an emptied folder or another mask
    /// already covers it.
    static func make(hiding hidden: [HiddenPath]) throws -> MachineMasks {
        var absent: [String] = []
        for entry in hidden {
            guard let real = realPath(entry.path) else { continue }
            if let needed = needed.first(where: { real == "/" || real == $0 || $0.hasPrefix(real + "/") }) {
                throw DriverError(
                    machine: nil, operation: "prepare the host",
                    "\(entry.reason.rawValue) \(entry.path)\(entry.source.map { " (\($0))" } ?? "") would be hidden from every machine, and machines run from \(needed)",
                    help: "keep it in a folder of its own (for the blueprint: a folder holding the blueprint and its files only)")
            }
            absent.append(real)
        }
        absent += absentByDefault().filter { FileManager.default.fileExists(atPath: $0) }
        let covering = emptiedByDefault
        let sorted = Array(Set(absent)).sorted()
        var kept: [String] = []
        for path in sorted where !(covering + kept).contains(where: { path == $0 || path.hasPrefix($0 + "/") }) {
            kept.append(path)
        }
        return MachineMasks(absent: kept, emptied: emptiedByDefault)
    }

    /// The path with every symbolic link resolved, or nil when it does not exist.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// Every path the deployments of this host asked to hide, so that one deployment's machines do not see
/// another's state or secrets wherever `--state` or the blueprint put them. One absolute path a line,
/// in a folder the machines do not see; paths that no longer exist are dropped when it is written.
struct HiddenPathRegistry {
    var file: String

    static let standard = HiddenPathRegistry(file: "/var/lib/photon/hidden-paths")

    /// Adds `paths`, drops `removing`, and returns every recorded path that exists, under an exclusive
    /// lock of the file.
    @discardableResult
    func record(_ paths: [String], removing: [String] = []) throws -> [String] {
        let directory = (file as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let descriptor = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw DriverError(machine: nil, operation: "prepare the host", "cannot open \(file): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        guard flock(descriptor, LOCK_EX) == 0 else {
            throw DriverError(machine: nil, operation: "prepare the host", "cannot lock \(file): \(String(cString: strerror(errno)))")
        }
        let recorded = String(decoding: FileHandle(fileDescriptor: descriptor, closeOnDealloc: false).readDataToEndOfFile(), as: UTF8.self)
            .split(separator: "\n").map(String.init)
        var all: [String] = []
        for path in recorded + paths
        where path.hasPrefix("/") && !all.contains(path) && !removing.contains(path)
            && FileManager.default.fileExists(atPath: path)
        {
            all.append(path)
        }
        let text = all.map { $0 + "\n" }.joined()
        guard ftruncate(descriptor, 0) == 0, lseek(descriptor, 0, SEEK_SET) == 0,
            Array(text.utf8).withUnsafeBytes({ write(descriptor, $0.baseAddress, $0.count) }) == text.utf8.count
        else {
            throw DriverError(machine: nil, operation: "prepare the host", "cannot write \(file): \(String(cString: strerror(errno)))")
        }
        return all
    }
}
