/// photon's version: in plans (a plan made by another version is not applied) and `photon --version`.
package enum PhotonVersion {
    package static let current = "0.1.0"
}
