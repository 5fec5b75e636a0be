import Foundation
import PhotonCore

/// Builds nodes from events without recursion, so nesting depth costs no stack.
struct Composer {
    let file: String
    let limits: YAMLLimits
    var anchors: [String: YAMLNode] = [:]
    var diagnostics = DiagnosticCollector()
    /// Nodes produced so far, aliases counted at their expanded size.
    var totalNodes = 0

    init(file: String, limits: YAMLLimits) {
        self.file = file
        self.limits = limits
    }

    /// An open list or mapping. Mutated in place on the stack, so appending never copies its items.
    private struct Frame {
        var start: EventStream.Event
        var isMapping: Bool
        var items: [YAMLNode] = []
        var entries: [(key: YAMLNode, value: YAMLNode)] = []
        var pendingKey: YAMLNode?
    }

    // One loop over libyaml's events with its stack of open nodes: split, the stack would be passed around.
    mutating func compose(_ events: EventStream) throws(DiagnosticsError) -> YAMLNode? {
        var root: YAMLNode?
        var stack: [Frame] = []
        var documents = 0
        while true {
            let event = try events.next()
            switch event.kind {
            case .streamStart, .documentEnd, .none:
                continue
            case .streamEnd:
                try diagnostics.throwIfAny()
                return root
            case .documentStart:
                documents += 1
                if documents > 1 {
                    diagnostics.error(
                        "a blueprint holds one YAML document; found a second one", at: event.location,
                        help: "remove the '---' line or put the second document in its own file")
                    try diagnostics.throwIfAny()
                }
                continue
            case .sequenceStart, .mappingStart:
                if stack.count >= limits.maxDepth {
                    throw DiagnosticsError(Diagnostic("lists and mappings nest more than \(limits.maxDepth) levels deep", at: event.location))
                }
                try checkTag(event)
                stack.append(Frame(start: event, isMapping: event.kind == .mappingStart))
                continue
            case .scalar, .alias, .sequenceEnd, .mappingEnd:
                break
            }

            var node: YAMLNode
            switch event.kind {
            case .scalar:
                try checkTag(event)
                let style: YAMLNode.ScalarStyle = event.tag == "tag:yaml.org,2002:str" ? .quoted : event.style
                node = YAMLNode(.scalar(event.value, style), at: event.location, textOrigin: events.textOrigin(of: event))
                if let anchor = event.anchor { anchors[anchor] = node }
            case .alias:
                guard let name = event.anchor, var target = anchors[name] else {
                    throw DiagnosticsError(
                        Diagnostic(
                            "alias '*\(event.anchor ?? "")' refers to no anchor defined before it", at: event.location,
                            help: "define '&\(event.anchor ?? "name")' earlier in the file"))
                }
                // Aliased nodes report the position of their use, so errors inside them point somewhere the user can see.
                target.location = event.location
                node = target
            case .sequenceEnd:
                guard let frame = stack.popLast(), !frame.isMapping else { continue }
                node = YAMLNode(.sequence(frame.items), at: frame.start.location)
                if let anchor = frame.start.anchor { anchors[anchor] = node }
            case .mappingEnd:
                guard let frame = stack.popLast(), frame.isMapping else { continue }
                node = YAMLNode(.mapping(buildPairs(frame.entries)), at: frame.start.location)
                if let anchor = frame.start.anchor { anchors[anchor] = node }
            default:
                continue
            }
            totalNodes += event.kind == .alias ? node.expandedSize : 1
            if totalNodes > limits.maxNodes {
                throw DiagnosticsError(
                    Diagnostic(
                        "the document expands to more than \(limits.maxNodes) nodes once its aliases are resolved",
                        at: event.location, help: "aliases that refer to other aliases multiply; is this an alias bomb?"))
            }

            guard !stack.isEmpty else {
                root = node
                continue
            }
            let top = stack.count - 1
            if !stack[top].isMapping {
                stack[top].items.append(node)
            } else if let key = stack[top].pendingKey {
                stack[top].entries.append((key, node))
                stack[top].pendingKey = nil
            } else {
                stack[top].pendingKey = node
            }
        }
    }

    private mutating func checkTag(_ event: EventStream.Event) throws(DiagnosticsError) {
        guard let tag = event.tag else { return }
        let allowed = ["tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "!"]
        if !allowed.contains(tag) {
            let written = tag.hasPrefix("tag:yaml.org,2002:") ? "!!" + tag.dropFirst("tag:yaml.org,2002:".count) : tag
            diagnostics.error("YAML tag '\(written)' is not supported", at: event.location, help: "remove the tag; photon reads plain values")
        }
    }

    /// Checks keys, reports duplicates at the second occurrence, and applies `<<` merge keys
    /// (explicit keys win over merged ones, earlier merged mappings over later ones).
    private mutating func buildPairs(_ entries: [(key: YAMLNode, value: YAMLNode)]) -> [YAMLPair] {
        var pairs: [YAMLPair] = []
        var firstSeen: [String: SourceLocation] = [:]
        var merged: [YAMLPair] = []
        var mergedKeys = Set<String>()
        for (key, value) in entries {
            guard case .scalar(let name, let style) = key.content else {
                diagnostics.error("mapping keys must be plain strings, found \(key.kindDescription)", at: key.location)
                continue
            }
            if name == "<<", style == .plain {
                let sources: [YAMLNode] = value.items ?? [value]
                for source in sources {
                    guard let sourcePairs = source.pairs else {
                        diagnostics.error("a merge key '<<' takes a mapping or a list of mappings, found \(source.kindDescription)", at: source.location)
                        continue
                    }
                    for pair in sourcePairs where mergedKeys.insert(pair.key).inserted { merged.append(pair) }
                }
                continue
            }
            if let first = firstSeen[name] {
                diagnostics.error(
                    "duplicate key '\(name)'", at: key.location, help: "'\(name)' is already set at line \(first.line), column \(first.column); keep one")
                continue
            }
            firstSeen[name] = key.location
            pairs.append(YAMLPair(key: name, keyLocation: key.location, value: value))
        }
        for pair in merged where firstSeen[pair.key] == nil { pairs.append(pair) }
        return pairs
    }
}
