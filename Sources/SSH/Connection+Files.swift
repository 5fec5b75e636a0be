internal import CLibSSH2
import Foundation
import PhotonCore

/// Files over SFTP: atomic uploads, whole reads, and copies to the installer.
extension SSHConnection {
    func sftpSubsystem() throws -> SFTP {
        if let sftp { return sftp }
        let started = try SFTP(session: try requireSession())
        sftp = started
        return started
    }

    /// Writes `data` at `path` so the machine never sees half a file: into a temporary name in the same
    /// directory, synced to disk, given its mode (and owner), then renamed over the target.
    public func upload(_ data: [UInt8], to path: String, mode: Int, owner: String? = nil, timeout: Duration? = nil) async throws {
        try await perform(timeout: timeout ?? .seconds(600)) { connection in
            do {
                try connection.put(data, to: path, mode: mode, owner: owner)
            } catch {
                connection.drop(after: error)
                throw error
            }
        }
    }

    /// Makes each missing folder of an absolute `path`; folders that exist are left as they are.
    func makeDirectories(_ path: String, sftp: SFTP) {
        var current = ""
        for component in path.split(separator: "/") {
            current += "/" + component
            _ = try? sftp.session.call(.sftp, "making \(current)") {
                current.withCString { libssh2_sftp_mkdir_ex(sftp.handle, $0, UInt32(current.utf8.count), 0o755) }
            }
        }
    }

    // One function: the SFTP write, its fsync and the rename, every path out closing its handles.
    func put(_ data: [UInt8], to path: String, mode: Int, owner: String?) throws {
        let sftp = try sftpSubsystem()
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let temporary = "\(directory.isEmpty ? "" : directory)/.\(name).photon-\(UInt32.random(in: 0...UInt32.max))"
        let flags = LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_EXCL
        let file: SFTPFile
        do {
            file = try SFTPFile(sftp: sftp, path: temporary, flags: flags, mode: 0o600)
        } catch let error as SSHError where error.message.contains("no such file") && directory.hasPrefix("/") {
            // A file's folder is part of putting the file there: make the missing ones (0755), as install -D would.
            makeDirectories(directory, sftp: sftp)
            file = try SFTPFile(sftp: sftp, path: temporary, flags: flags, mode: 0o600)
        }
        do {
            var offset = 0
            while offset < data.count {
                // Large writes let libssh2 keep several SFTP packets in flight (100 MiB: 0.37–0.60 s, against
                // 0.70–0.79 s in 30 kB writes, to a local sshd).
                let end = min(data.count, offset + (1 << 20))
                let written = try sftp.session.call(.sftp, "writing \(path)") {
                    data[offset..<end].withUnsafeBytes { raw in
                        Int32(truncatingIfNeeded: libssh2_sftp_write(file.handle, raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count))
                    }
                }
                offset += Int(written)
            }
            // The data reaches the disk before the name does; servers without fsync@openssh.com skip this.
            do { try sftp.session.call(.sftp, "syncing \(path)") { libssh2_sftp_fsync(file.handle) } } catch let error as SSHError
                where error.code == LIBSSH2_ERROR_SFTP_PROTOCOL
            {}
            var attributes = LIBSSH2_SFTP_ATTRIBUTES()
            attributes.flags = UInt(LIBSSH2_SFTP_ATTR_PERMISSIONS)
            attributes.permissions = UInt(mode)
            try sftp.session.call(.sftp, "setting the mode of \(path)") { libssh2_sftp_fstat_ex(file.handle, &attributes, LIBSSH2_SFTP_SETSTAT) }
            try file.close()
            // Without an owner to set, SFTP alone can put a new file in place: its rename refuses an
            // existing target (OpenSSH links, then unlinks), and then `mv -f` replaces it atomically.
            if owner == nil {
                let renamed = try? sftp.session.call(.sftp, "renaming \(path)") {
                    temporary.withCString { source in
                        path.withCString { target in
                            libssh2_sftp_rename_ex(
                                sftp.handle, source, UInt32(temporary.utf8.count), target, UInt32(path.utf8.count),
                                Int(LIBSSH2_SFTP_RENAME_OVERWRITE | LIBSSH2_SFTP_RENAME_ATOMIC | LIBSSH2_SFTP_RENAME_NATIVE))
                        }
                    }
                }
                if renamed != nil { return }
            }
            let chown = owner.map { "chown \(ShellQuoting.quote($0)) \(ShellQuoting.quote(temporary)) && " } ?? ""
            let command = "\(chown)mv -f \(ShellQuoting.quote(temporary)) \(ShellQuoting.quote(path))"
            let result = try run(command, environment: [:], onOutput: nil)
            guard result.succeeded else {
                throw SSHError(.command, "putting \(path) in place on \(host) failed: \(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
        } catch {
            // Leave nothing behind: the temporary name never was the target.
            _ = try? sftp.session.call(.sftp, "removing \(temporary)") {
                temporary.withCString { clibssh2_sftp_unlink(sftp.handle, $0, UInt32(temporary.utf8.count)) }
            }
            throw error
        }
    }

    /// Reads a whole remote file (for captures of files).
    public func download(_ path: String, limit: Int = 64 << 20, timeout: Duration? = nil) async throws -> [UInt8] {
        try await perform(timeout: timeout ?? .seconds(600)) { connection in
            let sftp = try connection.sftpSubsystem()
            let file = try SFTPFile(sftp: sftp, path: path, flags: LIBSSH2_FXF_READ, mode: 0)
            var data = [UInt8]()
            var buffer = [UInt8](repeating: 0, count: 32768)
            while true {
                let count = try sftp.session.call(.sftp, "reading \(path)") {
                    buffer.withUnsafeMutableBytes { raw in
                        Int32(truncatingIfNeeded: libssh2_sftp_read(file.handle, raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count))
                    }
                }
                if count == 0 { break }
                data.append(contentsOf: buffer[0..<Int(count)])
                guard data.count <= limit else { throw SSHError(.sftp, "\(path) on \(connection.host) is larger than \(limit) bytes") }
            }
            try file.close()
            return data
        }
    }

    /// Copies a remote file of any size to `localPath` (0600, written as it arrives); returns its size.
    public func download(_ path: String, to localPath: String, timeout: Duration? = nil) async throws -> Int {
        try await perform(timeout: timeout ?? .seconds(3600)) { connection in
            let sftp = try connection.sftpSubsystem()
            let file = try SFTPFile(sftp: sftp, path: path, flags: LIBSSH2_FXF_READ, mode: 0)
            guard FileManager.default.createFile(atPath: localPath, contents: nil, attributes: [.posixPermissions: 0o600]),
                let output = FileHandle(forWritingAtPath: localPath)
            else { throw SSHError(.sftp, "cannot write \(localPath) on the installer") }
            defer { try? output.close() }
            var total = 0
            var buffer = [UInt8](repeating: 0, count: 1 << 17)
            while true {
                let count = try sftp.session.call(.sftp, "reading \(path)") {
                    buffer.withUnsafeMutableBytes { raw in
                        Int32(truncatingIfNeeded: libssh2_sftp_read(file.handle, raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count))
                    }
                }
                if count == 0 { break }
                try output.write(contentsOf: buffer[0..<Int(count)])
                total += Int(count)
            }
            try file.close()
            try output.synchronize()
            return total
        }
    }

}
