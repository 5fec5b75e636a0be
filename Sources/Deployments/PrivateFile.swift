import Foundation
import PhotonCore

/// Files photon writes for its user that may hold credentials or pinned keys (kubeconfigs, backup
/// descriptions, known hosts, ssh configurations, starter blueprints).
package enum PrivateFile {
    /// Writes `text` at `path` with mode 0600, atomically (a reader never sees half of it).
    package static func write(_ text: String, to path: String) throws {
        let temporary = path + ".photon-tmp"
        try? FileManager.default.removeItem(atPath: temporary)
        guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw PhotonError("cannot write \(temporary)")
        }
        guard rename(temporary, path) == 0 else {
            try? FileManager.default.removeItem(atPath: temporary)
            throw PhotonError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// A UTC time for default file names (20261206-044600).
    package static func stamp(_ date: Date = Date()) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        return formatter.string(from: date)
    }
}
