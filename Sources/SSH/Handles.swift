internal import CLibSSH2
import Foundation

/// An exec channel. It keeps its session alive; freeing it happens on the session's thread.
final class Channel {
    let session: Session
    let handle: OpaquePointer

    init(session: Session) throws {
        self.session = session
        handle = try session.pointer(.channel, "opening a channel") { clibssh2_channel_open_session(session.handle) }
    }

    deinit {
        session.release("closing a channel") { libssh2_channel_free(handle) }
    }
}

/// An SFTP subsystem on a session, kept for the session's life.
final class SFTP {
    let session: Session
    let handle: OpaquePointer

    init(session: Session) throws {
        self.session = session
        handle = try session.pointer(.sftp, "starting SFTP") { libssh2_sftp_init(session.handle) }
    }

    deinit {
        session.release("stopping SFTP") { libssh2_sftp_shutdown(handle) }
    }

    /// The SFTP server's own error for the last failed call, in words.
    func lastError() -> String {
        let code = libssh2_sftp_last_error(handle)
        switch code {
        case LIBSSH2_FX_NO_SUCH_FILE: return "no such file"
        case LIBSSH2_FX_PERMISSION_DENIED: return "permission denied"
        case LIBSSH2_FX_NO_SUCH_PATH: return "no such directory"
        case LIBSSH2_FX_FILE_ALREADY_EXISTS: return "file already exists"
        case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM, LIBSSH2_FX_QUOTA_EXCEEDED: return "no space left"
        case LIBSSH2_FX_OP_UNSUPPORTED: return "operation not supported by the server"
        default: return "SFTP error \(code)"
        }
    }
}

/// An open remote file. Closing it happens on the session's thread.
final class SFTPFile {
    let sftp: SFTP
    let handle: OpaquePointer
    let path: String
    private var closed = false

    init(sftp: SFTP, path: String, flags: Int32, mode: Int) throws {
        self.sftp = sftp
        self.path = path
        let session = sftp.session
        do {
            handle = try session.pointer(.sftp, "opening \(path)") {
                path.withCString { clibssh2_sftp_open(sftp.handle, $0, UInt32(path.utf8.count), UInt(flags), mode) }
            }
        } catch let error as SSHError where error.code == LIBSSH2_ERROR_SFTP_PROTOCOL {
            throw SSHError(.sftp, "opening \(path) on \(session.host): \(sftp.lastError())", code: error.code)
        }
    }

    func close() throws {
        guard !closed else { return }
        closed = true
        try sftp.session.call(.sftp, "closing \(path)") { libssh2_sftp_close_handle(handle) }
    }

    deinit {
        if !closed { sftp.session.release("closing \(path)") { libssh2_sftp_close_handle(handle) } }
    }
}
