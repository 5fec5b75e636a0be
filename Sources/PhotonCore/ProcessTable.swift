import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The host's processes by their command lines, read from /proc. A process that ends while it is read
/// is left out; kernel threads (no command line) are too.
public enum ProcessTable {
    public struct Entry: Sendable, Equatable {
        public var pid: pid_t
        public var arguments: [String]

        /// The arguments joined by spaces, as `ps` shows them.
        public var commandLine: String { arguments.joined(separator: " ") }
    }

    public static func entries() -> [Entry] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
            guard let pid = pid_t(entry), let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"), !data.isEmpty else { return nil }
            var arguments = data.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            // The terminating NUL (and the padding a process that retitles itself leaves) is not an argument.
            while arguments.last?.isEmpty == true { arguments.removeLast() }
            return arguments.isEmpty ? nil : Entry(pid: pid, arguments: arguments)
        }
    }
}
