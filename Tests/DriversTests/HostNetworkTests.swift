import PhotonCore
import Testing

@testable import Drivers

@Suite("Host network checks")
struct HostNetworkTests {
    @Test("a DROP forward policy blocks bridged machines unless a rule accepts the bridge's traffic")
    func firewall() {
        let bridge = "ph0ae70000-24"
        #expect(!HostNetwork.forwardingBlocks(bridge: bridge, rules: "-P FORWARD ACCEPT\n"))
        #expect(HostNetwork.forwardingBlocks(bridge: bridge, rules: "-P FORWARD DROP\n-A FORWARD -j DOCKER-USER\n"))
        #expect(HostNetwork.forwardingBlocks(bridge: bridge, rules: "-P FORWARD DROP\n-A FORWARD -i ph0ae70000-2 -j ACCEPT\n"))
        #expect(
            HostNetwork.forwardingBlocks(
                bridge: bridge, rules: "-P FORWARD DROP\n-A FORWARD -i \(bridge) -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"))
        #expect(!HostNetwork.forwardingBlocks(bridge: bridge, rules: "-P FORWARD DROP\n-A FORWARD -i \(bridge) -o \(bridge) -j ACCEPT\n"))
    }

    @Test("bridge, veth and MAC names come from the network and the address, within Linux's limits")
    func names() {
        let network = IPv4Network("10.77.0.0/24")!
        #expect(HostNetwork.defaultBridgeName(for: network) == "ph0a4d0000-24")
        #expect(HostNetwork.defaultBridgeName(for: IPv4Network("10.77.0.0/16")!) == "ph0a4d0000-16")
        #expect(HostNetwork.vethName(for: IPv4Address("10.77.0.5")!) == "pv0a4d0005")
        #expect(HostNetwork.macAddress(for: IPv4Address("10.77.0.5")!) == "02:50:0a:4d:00:05")
        #expect(HostNetwork.defaultBridgeName(for: IPv4Network("255.255.255.0/24")!).count <= 15)
    }

    @Test("a machine's configuration quotes blanks in paths as mount(8) reads them")
    func fstab() {
        #expect(MachineLayout.fstabEscape("/srv/my state/.photon") == "/srv/my\\040state/.photon")
    }
}
