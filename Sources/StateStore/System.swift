import Foundation
import PhotonCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The few operating-system calls the store needs, with errors phrased for a user.
enum System {
    /// This machine's name as `gethostname` reports it (no DNS look-up).
    static let hostName: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name
    }()

    static var pid: Int32 { getpid() }

    /// Whether a process with this id exists on this machine. Only ESRCH means it is gone: EPERM means
    /// it exists but belongs to someone else.
    static func processExists(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        if kill(pid, 0) == 0 { return true }
        return errno != ESRCH
    }

    static func errorText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    static func fileSize(_ path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int(info.st_size)
    }

    static func permissions(_ path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int(info.st_mode & 0o7777)
    }

    /// Creates `path` and any missing parents with mode 0700 (whatever the umask). Existing directories
    /// keep their mode.
    static func makeDirectory(_ path: String) throws {
        if isDirectory(path) { return }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty, parent != path { try makeDirectory(parent) }
        if mkdir(path, 0o700) != 0 {
            let code = errno
            // Another process may have made it meanwhile.
            if code == EEXIST {
                if isDirectory(path) { return }
                throw PhotonError(
                    "the state directory \(path) exists but is not a directory",
                    help: "move that file away, or pass another state directory")
            }
            throw PhotonError(
                "cannot create the state directory \(path): \(errorText(code))",
                help: "check that you may write to \(parent.isEmpty ? "its parent" : parent)")
        }
        _ = chmod(path, 0o700)
    }

    /// Reads up to `count` bytes from the start of a file.
    static func readPrefix(_ path: String, count: Int) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PhotonError("cannot read \(path): \(errorText())") }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, count - filled) }
            if n < 0 {
                if errno == EINTR { continue }
                throw PhotonError("cannot read \(path): \(errorText())")
            }
            if n == 0 { break }
            filled += n
        }
        return Array(bytes.prefix(filled))
    }

    /// Creates a new file (failing when it exists) with `mode`, writes `bytes`, and syncs it.
    static func createFile(_ path: String, mode: mode_t, bytes: [UInt8]) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw PhotonError("cannot create \(path): \(errorText())") }
        var ok = false
        defer {
            close(fd)
            if !ok { unlink(path) }
        }
        _ = fchmod(fd, mode)
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                throw PhotonError("cannot write \(path): \(errorText())")
            }
            written += n
        }
        guard fsync(fd) == 0 else { throw PhotonError("cannot write \(path): \(errorText())") }
        ok = true
    }

    /// Gives `source` the name `destination` unless that name exists. Returns false when it does (the
    /// source is left in place). Hard links make this atomic: two processes racing cannot both win.
    static func linkIfAbsent(_ source: String, to destination: String) throws -> Bool {
        if link(source, destination) == 0 { return true }
        let code = errno
        if code == EEXIST { return false }
        throw PhotonError("cannot create \(destination): \(errorText(code))")
    }

    /// Makes a directory's entries (a new or renamed file) durable.
    static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    static func remove(_ path: String) { _ = unlink(path) }
}
