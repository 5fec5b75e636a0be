import ArgumentParser
import Deployments
import Foundation
import PhotonCore

struct BundleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bundle",
        abstract: "Gather every binary a blueprint's clusters need into one folder.",
        discussion: """
            Each file (kubeadm, the CNI plugins, your Mesos build…) is fetched from the blueprint's source \
            (upstream, or binaries.from), checked against its SHA-256 and written as ARCH/FILE. Copy the folder \
            to an installer without network and give the blueprint `binaries: {from: FOLDER}`, or serve it as a mirror.
            """
    )

    @OptionGroup var blueprint: BlueprintOptions

    @Option(name: [.short, .customLong("out")], help: ArgumentHelp("The folder to fill.", valueName: "folder"))
    var out: String

    @Option(help: "The machines' architecture (amd64 or arm64); this host's by default.")
    var arch: String?

    func validate() throws {
        if let arch, !["amd64", "arm64"].contains(arch) { throw ValidationError("--arch must be amd64 or arm64, not '\(arch)'") }
    }

    func run() async throws {
        let entries = try await BinaryBundle.gather(
            blueprintPath: blueprint.file, templates: blueprint.templates, into: out, arch: arch, report: { Output.error($0) })
        for entry in entries {
            let size = ByteCountFormatter.string(fromByteCount: Int64(entry.size), countStyle: .file)
            Output.result("\(entry.file.bundlePath)  \(entry.file.label)  sha256:\(entry.file.sha256)  \(size)\(entry.fetched ? "" : "  (already there)")")
        }
        Output.error("The bundle is in \(out). Give the blueprint `binaries: {from: \(out)}` (keep its sha256 pins for your own builds).")
    }
}
