import Blueprints
import Drivers
import Foundation
import Testing

@testable import Deployments
@testable import PhotonCommands

/// What a blueprint makes the local driver hide from its machines.
@Suite("Installer paths hidden from local machines", .tags(.security))
struct InstallerPathSecurityTests {
    @Test("the state (every deployment's under .photon), the blueprint's folder, ssh.key and every file: secret and setting, resolved as photon reads them")
    func hiddenPaths() throws {
        let blueprint = try BlueprintLoader(environment: LoadEnvironment(variables: ["HOME": "/root"], fileExists: { _ in true })).load(
            bytes: Array(
                """
                name: k
                controlPlane: {driver: local, network: 10.9.0.0/24}
                ssh: {key: 'file:keys/id_ed25519'}
                secrets:
                  token: file:/etc/tokens/k.token
                  home: file:~/k.secret
                clusters:
                  - name: c
                    kind: kubernetes
                    roles: {etcd: 1, controllers: 1, workers: 1}
                    settings:
                      certificateKey: file:../shared/certificate.key
                      clusterDomain: cluster.local

                """.utf8), file: "/srv/bp/k.yaml")
        let hidden = InstallerPaths.hidden(for: blueprint, stateDirectory: "/srv/bp/.photon/k")
        #expect(
            hidden.map(\.path) == [
                "/srv/bp/.photon", "/srv/bp", "/srv/bp/keys/id_ed25519", "/etc/tokens/k.token", NSHomeDirectory() + "/k.secret", "/srv/shared/certificate.key",
            ])
        #expect(hidden.map(\.reason) == [.state, .blueprint, .keyFile, .secretFile, .secretFile, .secretFile])
        #expect(hidden[2].source == "/srv/bp/k.yaml:3:12", "\(hidden[2])")
        #expect(hidden[5].source?.hasPrefix("/srv/bp/k.yaml:12:") == true, "\(hidden[5])")
        // A state directory elsewhere (--state) is hidden itself.
        #expect(InstallerPaths.hidden(for: blueprint, stateDirectory: "/var/lib/deployments/k").first?.path == "/var/lib/deployments/k")
    }
}
