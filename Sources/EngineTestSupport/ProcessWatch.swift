import Foundation
import PhotonCore

/// Watches every process on the host while a test runs, on a thread of its own: machines made by the
/// local driver are containers, so their processes are in the host's /proc too. Keeps each command
/// line that `flag` picks (a token where none may be), and counts those `proof` picks (the step that
/// would carry the token, seen running), so a test knows the watch was looking at the right moment.
public final class ProcessWatch: Sendable {
    public struct Report: Sendable {
        public var flagged: [String]
        public var proofs: Int
        public var scans: Int
    }

    private let report = Locked(Report(flagged: [], proofs: 0, scans: 0))
    private let running = Locked(true)
    private let finished = DispatchSemaphore(value: 0)

    public init(every interval: TimeInterval = 0.02, flag: @escaping @Sendable (String) -> Bool, proof: @escaping @Sendable (String) -> Bool) {
        let thread = Thread { [report, running, finished] in
            var proven = Set<String>()
            while running.current {
                let lines = HostProcesses.commandLines()
                report.withLock { current in
                    current.scans += 1
                    for (pid, line) in lines {
                        if flag(line), !current.flagged.contains(line) { current.flagged.append(line) }
                        if proof(line), proven.insert(pid).inserted { current.proofs += 1 }
                    }
                }
                Thread.sleep(forTimeInterval: interval)
            }
            finished.signal()
        }
        thread.start()
    }

    /// Stops watching and says what was seen.
    public func stop() -> Report {
        running.withLock { $0 = false }
        finished.wait()
        return report.current
    }
}

extension HostProcesses {
    /// Every process's pid and command line (arguments joined by spaces).
    public static func commandLines() -> [(pid: String, line: String)] {
        var lines: [(String, String)] = []
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int(entry) != nil {
            guard let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"), !data.isEmpty else { continue }
            lines.append((entry, String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)))
        }
        return lines
    }
}
