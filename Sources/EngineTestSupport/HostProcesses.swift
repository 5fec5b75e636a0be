import Foundation
import PhotonCore

/// The host's processes, for tests that check they left none behind.
public enum HostProcesses {
    /// "pid: command line" of every process whose command line contains `text` (LXC's monitors name
    /// their machines' folder).
    public static func mentioning(_ text: String) -> [String] {
        ProcessTable.entries().filter { $0.commandLine.contains(text) }.map { "\($0.pid): \($0.commandLine)" }
    }
}
