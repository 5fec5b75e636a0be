// Wrappers for the libssh2 macros Swift cannot import (function-like macros over the *_ex calls).
#include <libssh2.h>
#include <libssh2_sftp.h>

static inline LIBSSH2_SESSION *clibssh2_session_new(void) { return libssh2_session_init_ex(NULL, NULL, NULL, NULL); }

static inline int clibssh2_session_disconnect(LIBSSH2_SESSION *session, const char *why) {
    return libssh2_session_disconnect_ex(session, SSH_DISCONNECT_BY_APPLICATION, why, "");
}

static inline LIBSSH2_CHANNEL *clibssh2_channel_open_session(LIBSSH2_SESSION *session) {
    return libssh2_channel_open_ex(session, "session", sizeof("session") - 1,
                                   LIBSSH2_CHANNEL_WINDOW_DEFAULT, LIBSSH2_CHANNEL_PACKET_DEFAULT, NULL, 0);
}

static inline int clibssh2_channel_exec(LIBSSH2_CHANNEL *channel, const char *command, unsigned int length) {
    return libssh2_channel_process_startup(channel, "exec", sizeof("exec") - 1, command, length);
}

static inline LIBSSH2_SFTP_HANDLE *clibssh2_sftp_open(LIBSSH2_SFTP *sftp, const char *path, unsigned int length, unsigned long flags, long mode) {
    return libssh2_sftp_open_ex(sftp, path, length, flags, mode, LIBSSH2_SFTP_OPENFILE);
}

static inline int clibssh2_sftp_unlink(LIBSSH2_SFTP *sftp, const char *path, unsigned int length) {
    return libssh2_sftp_unlink_ex(sftp, path, length);
}
