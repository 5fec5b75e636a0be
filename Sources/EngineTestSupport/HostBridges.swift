import Foundation

/// The host's bridges, for tests that check they left none behind.
public enum HostBridges {
    /// Nil when the host has no interface of that name; else what a failing test should show: the
    /// bridge, its ports and its addresses.
    public static func leftover(_ name: String) -> String? {
        let path = "/sys/class/net/\(name)"
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let ports = ((try? FileManager.default.contentsOfDirectory(atPath: path + "/brif")) ?? []).sorted()
        let addresses = (try? String(contentsOfFile: path + "/address", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
        return "bridge \(name) (MAC \(addresses), ports: \(ports.isEmpty ? "none" : ports.joined(separator: ", ")))"
    }
}
