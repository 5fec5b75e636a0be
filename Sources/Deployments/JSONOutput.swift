import Foundation
import PhotonCore

/// The one JSON encoder: sorted keys, pretty, no escaped slashes, so output is stable and diffable.
package enum JSONOutput {
    /// One compact line, for NDJSON streams.
    package static func line<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { return "{}" }
        return escapingControls(String(decoding: data, as: UTF8.self))
    }

    package static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { return "{}" }
        return escapingControls(String(decoding: data, as: UTF8.self))
    }

    package static func escapingControls(_ json: String) -> String { JSONText.escapingControls(json) }
}
