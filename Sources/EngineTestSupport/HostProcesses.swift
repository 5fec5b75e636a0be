import Foundation

/// The host's processes, for tests that check they left none behind.
public enum HostProcesses {
    /// "pid: command line" of every process whose command line contains `text` (LXC's monitors name
    /// their machines' folder).
    public static func mentioning(_ text: String) -> [String] {
        var found: [String] = []
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int(entry) != nil {
            guard let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"), !data.isEmpty else { continue }
            let line = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            if line.contains(text) { found.append("\(entry): \(line)") }
        }
        return found
    }
}
