import Foundation
import PhotonCore

/// The installer host's side of a local network: one Linux bridge per deployment network, holding the
/// network's first address. Nothing is routed or NATed beyond it: machines reach each other and the host.
struct HostNetwork: Sendable {
    var network: IPv4Network
    var bridge: String
    /// Where the blueprint set the network, for errors ("photon.yaml:4:14").
    var source: String?

    /// The host's address on the bridge: the network's first usable address.
    var hostAddress: IPv4Address { IPv4Address(network.network.value + 1) }

    /// "ph0a4d0000-24" for 10.77.0.0/24: unique per network and within the 15 characters Linux allows.
    static func defaultBridgeName(for network: IPv4Network) -> String {
        "ph" + hex(network.network.value) + "-\(network.prefixLength)"
    }

    /// The host end of a machine's veth pair: "pv0a4d0005" for 10.77.0.5. Addresses are unique on the host
    /// (networks of deployments may not overlap), so the names are too.
    static func vethName(for address: IPv4Address) -> String { "pv" + hex(address.value) }

    /// A fixed, locally administered MAC made from the address, so a machine made again under the same
    /// address is reachable at once instead of after the neighbours' ARP entries expire.
    static func macAddress(for address: IPv4Address) -> String {
        let value = address.value
        return String(format: "02:50:%02x:%02x:%02x:%02x", value >> 24, value >> 16 & 0xff, value >> 8 & 0xff, value & 0xff)
    }

    static func hex(_ value: UInt32) -> String { String(format: "%08x", value) }

    var bridgeExists: Bool { FileManager.default.fileExists(atPath: "/sys/class/net/\(bridge)") }

    /// Whether photon made the bridge: it carries the MAC photon gives its bridges, not one the kernel or
    /// a person chose.
    var bridgeIsPhotons: Bool {
        let address = try? String(contentsOfFile: "/sys/class/net/\(bridge)/address", encoding: .utf8)
        return address?.trimmingCharacters(in: .whitespacesAndNewlines) == HostNetwork.macAddress(for: hostAddress)
    }

    /// The interfaces on the bridge (machines' veths), sorted.
    var ports: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/class/net/\(bridge)/brif")) ?? []).sorted() }

    /// Makes the bridge if it is missing, after checking that the network is free on this host and that
    /// the host firewall lets frames between machines pass.
    func ensureBridge() throws {
        if bridgeExists {
            guard FileManager.default.fileExists(atPath: "/sys/class/net/\(bridge)/bridge") else {
                throw prepareError("the interface \(bridge) exists and is not a bridge", help: "name another bridge in controlPlane.local.bridge")
            }
            let addresses = try HostCommand.runBlocking(["ip", "-4", "-o", "addr", "show", "dev", bridge])
            let expected = "\(hostAddress)/\(network.prefixLength)"
            guard addresses.stdout.split(separator: " ").contains(where: { $0 == expected }) else {
                throw prepareError(
                    "the bridge \(bridge) exists but does not hold \(expected); another deployment or program uses it",
                    help: "name another bridge in controlPlane.local.bridge, or choose another network")
            }
            try checkFirewall()
            return
        }
        if let route = try overlappingRoute() {
            throw prepareError(
                "the network \(network) overlaps the host's route to \(route.network) on \(route.device)",
                help: "choose a free network for controlPlane.local.network (see 'ip route')")
        }
        try checkFirewall()
        // A bridge takes the lowest MAC of its ports unless given one, and changes it as machines come
        // and go: every machine holding the old one in its ARP cache then loses traffic to the host for
        // up to ~30 s. A fixed MAC (from the host's address) never changes.
        let script = """
            link add name \(bridge) address \(HostNetwork.macAddress(for: hostAddress)) type bridge
            addr add \(hostAddress)/\(network.prefixLength) dev \(bridge)
            link set \(bridge) up

            """
        let result = try HostCommand.runBlocking(["ip", "-batch", "-"], input: script)
        guard result.succeeded else {
            _ = try? HostCommand.runBlocking(["ip", "link", "del", bridge])
            throw prepareError("cannot make the bridge \(bridge): \(result.diagnostic)")
        }
    }

    func removeBridge() throws {
        guard bridgeExists else { return }
        let result = try HostCommand.runBlocking(["ip", "link", "del", bridge])
        // The kernel may still be letting go of the last machine's port: the bridge goes within moments.
        for _ in 0..<100 where bridgeExists { usleep(20_000) }
        guard !bridgeExists else {
            let ports = self.ports
            throw DriverError(
                machine: nil, operation: "delete",
                "cannot remove the bridge \(bridge)\(ports.isEmpty ? "" : " (ports: \(ports.joined(separator: ", ")))"): \(result.succeeded ? "it is still there" : result.diagnostic)",
                transient: true)
        }
    }

    struct Route {
        var network: IPv4Network
        var device: String
    }

    /// A host route (other than the default route and routes on our own bridge) that overlaps the network.
    func overlappingRoute() throws -> Route? {
        guard let table = try? String(contentsOfFile: "/proc/net/route", encoding: .utf8) else { return nil }
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            guard fields.count >= 8, let destination = UInt32(fields[1], radix: 16), let mask = UInt32(fields[7], radix: 16) else { continue }
            // /proc/net/route prints the address's network-order bytes read as a native integer.
            let base = IPv4Address(UInt32(bigEndian: destination))
            let prefix = mask.nonzeroBitCount
            guard prefix > 0, fields[0] != bridge else { continue }
            let route = IPv4Network(base: base, prefixLength: prefix)
            if route.overlaps(network) { return Route(network: route, device: String(fields[0])) }
        }
        return nil
    }

    /// Frames between machines on a bridge pass the host's iptables FORWARD chain when
    /// `net.bridge.bridge-nf-call-iptables` is 1. A DROP policy there (which a dockerd on the host sets)
    /// silently cuts machines off from each other: say so, and never change the firewall ourselves.
    func checkFirewall() throws {
        let setting = (try? String(contentsOfFile: "/proc/sys/net/bridge/bridge-nf-call-iptables", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard setting == "1", HostCommand.resolve("iptables") != nil,
            let rules = try? HostCommand.runBlocking(["iptables", "-w", "5", "-S", "FORWARD"]), rules.succeeded
        else { return }
        if HostNetwork.forwardingBlocks(bridge: bridge, rules: rules.stdout) {
            throw prepareError(
                "the host's iptables FORWARD policy is DROP and bridged frames pass it (net.bridge.bridge-nf-call-iptables = 1): machines on \(bridge) could not reach each other",
                help:
                    "photon does not change the host firewall; allow the bridge with 'iptables -I FORWARD -i \(bridge) -o \(bridge) -j ACCEPT', or set net.bridge.bridge-nf-call-iptables = 0 (a dockerd running on the host sets the DROP policy)"
            )
        }
    }

    /// Whether `iptables -S FORWARD` output drops frames between ports of `bridge`: a DROP or REJECT
    /// policy with no rule accepting what comes in on the bridge.
    static func forwardingBlocks(bridge: String, rules: String) -> Bool {
        let lines = rules.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let policyDrops = lines.contains("-P FORWARD DROP") || lines.contains("-P FORWARD REJECT")
        let allowsBridge = lines.contains { line in
            let words = line.split(separator: " ")
            guard let input = words.firstIndex(of: "-i"), input + 1 < words.count, words[input + 1] == bridge else { return false }
            return line.hasSuffix("-j ACCEPT") && !line.contains("--ctstate") && !line.contains("--state")
        }
        return policyDrops && !allowsBridge
    }

    func prepareError(_ message: String, help: String? = nil) -> DriverError {
        let located = source.map { "\(message) (network from \($0))" } ?? message
        return DriverError(machine: nil, operation: "prepare the host", located, help: help)
    }
}
