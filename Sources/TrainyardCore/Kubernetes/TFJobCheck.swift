/// Validates a Kubeflow TFJob manifest (kubeflow.org/v1) before a cluster sees it: the CRD's
/// OpenAPI schema (`TFJobCRDSchema`, walked by `OpenAPISubset`), then the rules the operator's
/// admission webhook and API types add (training-operator release-1.9,
/// `pkg/webhooks/tensorflow/tfjob_webhook.go`, `pkg/common/util/webhooks.go`,
/// `pkg/apis/kubeflow.org/v1/{common,tensorflow}_types.go`), then what the operator needs to name
/// each replica's pod and service. Pure: the manifest is a parsed `JSONValue`.
public enum TFJobCheck {
    /// The replica types a TFJob may hold (`TFJobReplicaType*`). The operator's defaulting
    /// camel-cases a key written in another case (`worker` → `Worker`), so any case is accepted.
    public static let replicaTypes = ["Chief", "Master", "Worker", "PS", "Evaluator"]
    /// `RestartPolicy` values (`common_types.go`); the CRD's schema leaves the field a free string.
    public static let restartPolicies = ["Always", "OnFailure", "Never", "ExitCode"]
    /// `CleanPodPolicy` values; the operator defaults a TFJob's to `None`.
    public static let cleanPodPolicies = ["All", "Running", "None"]
    /// `SuccessPolicy` values: "" (the chief's, or worker 0's, success decides) or `AllWorkers`.
    public static let successPolicies = ["", "AllWorkers"]
    /// `runPolicy.managedBy` values the webhook accepts.
    public static let managers = ["kubeflow.org/training-operator", "kueue.x-k8s.io/multikueue"]
    /// The container the operator configures (its TF_CONFIG and port) in every replica's pod.
    public static let containerName = "tensorflow"

    /// The parsed schema, once.
    public static let schema: JSONValue = {
        do { return try JSONParser.parse(TFJobCRDSchema.json) } catch { preconditionFailure("the vendored TFJob schema does not parse: \(error)") }
    }()

    /// Every problem of `manifest`, schema first, in document order; empty when it is valid.
    public static func problems(_ manifest: JSONValue) -> [ManifestProblem] {
        guard case .object = manifest else { return [ManifestProblem("", "a TFJob manifest is an object (apiVersion, kind, metadata, spec), got \(manifest.kindName)")] }
        var out = OpenAPISubset.validate(manifest, against: schema)
        out += identity(manifest)
        out += metadata(manifest["metadata"])
        if let spec = manifest["spec"], case .object = spec {
            out += webhook(spec)
            // The operator copies these onto the pods it creates, which the API server checks.
            for (type, r) in spec["tfReplicaSpecs"]?.objectValue ?? [] {
                if let l = r["template"]?["metadata"]?["labels"] { out += labels(l, at: "spec.tfReplicaSpecs.\(type).template.metadata.labels") }
            }
            if let name = manifest["metadata"]?["name"]?.stringValue, dns1035Problem(name) == nil { out += podNames(job: name, spec: spec) }
        }
        // One problem per path and message, in the order found.
        var seen = Set<String>()
        return out.filter { seen.insert($0.description).inserted }
    }

    /// Advice that does not make the manifest invalid but is a known TFJob trouble (ps pods that
    /// never stop, a chief that can never succeed).
    public static func warnings(_ manifest: JSONValue) -> [String] {
        guard let spec = manifest["spec"], let replicas = spec["tfReplicaSpecs"]?.objectValue else { return [] }
        var out: [String] = []
        let clean = spec["runPolicy"]?["cleanPodPolicy"]?.stringValue ?? "None"
        if clean == "None", replicas.contains(where: { $0.0.lowercased() == "ps" }) {
            out.append("spec.runPolicy.cleanPodPolicy is None (the operator's default): parameter servers never exit on their own, so their pods keep running (and billing) after the job ends; use Running")
        }
        for (type, r) in replicas where ["chief", "master"].contains(type.lowercased()) && r["restartPolicy"]?.stringValue == "Always" {
            out.append("spec.tfReplicaSpecs.\(type).restartPolicy is Always: the kubelet restarts the chief even after it exits 0, so the job never succeeds; use OnFailure or ExitCode")
        }
        return out
    }

    static func identity(_ m: JSONValue) -> [ManifestProblem] {
        var out: [ManifestProblem] = []
        switch m["apiVersion"] {
        case nil: out.append(.init("apiVersion", "required (kubeflow.org/v1)"))
        case .string("kubeflow.org/v1")?: break
        case let v?: out.append(.init("apiVersion", "must be kubeflow.org/v1, got \(v.serialized())"))
        }
        switch m["kind"] {
        case nil: out.append(.init("kind", "required (TFJob)"))
        case .string("TFJob")?: break
        case let v?: out.append(.init("kind", "must be TFJob, got \(v.serialized())"))
        }
        if m["spec"] == nil { out.append(.init("spec", "required")) }
        return out
    }

    /// ObjectMeta, which the API server checks itself (the CRD schema says only `type: object`),
    /// and the webhook's DNS-1035 rule for the name.
    static func metadata(_ meta: JSONValue?) -> [ManifestProblem] {
        guard let meta else { return [ManifestProblem("metadata", "required (metadata.name names the job)")] }
        guard let fields = meta.objectValue else { return [] }  // the schema reported the type
        var out: [ManifestProblem] = []
        let known: [String: String] = [
            "name": "string", "generateName": "string", "namespace": "string", "labels": "map", "annotations": "map",
            "finalizers": "list", "ownerReferences": "list", "uid": "string", "resourceVersion": "string", "generation": "integer",
            "creationTimestamp": "any", "deletionTimestamp": "any", "deletionGracePeriodSeconds": "integer", "managedFields": "list", "selfLink": "string",
        ]
        for (key, value) in fields {
            let at = "metadata." + key
            guard let kind = known[key] else {
                out.append(.init(at, OpenAPISubset.unknownFieldMessage(key, known: Array(known.keys))))
                continue
            }
            switch kind {
            case "string" where value.stringValue == nil: out.append(.init(at, "must be a string, got \(value.kindName)"))
            case "integer" where value.intValue == nil: out.append(.init(at, "must be an integer, got \(value.kindName)"))
            case "list" where value.arrayValue == nil: out.append(.init(at, "must be a list, got \(value.kindName)"))
            case "map":
                guard let entries = value.objectValue else { out.append(.init(at, "must be a map of strings, got \(value.kindName)")); continue }
                for (k, v) in entries where v.stringValue == nil { out.append(.init(at + "." + k, "must be a string, got \(v.kindName)")) }
                if key == "labels" { out += labels(value, at: at) }
            default: break
            }
        }
        if let name = meta["name"] {
            if let text = name.stringValue, let reason = dns1035Problem(text) {
                out.append(.init("metadata.name", "\"\(text)\" \(reason) (the operator's webhook requires a DNS-1035 label)"))
            }
        } else if meta["generateName"] == nil {
            out.append(.init("metadata.name", "required"))
        }
        if let ns = meta["namespace"]?.stringValue, let reason = dns1123LabelProblem(ns) {
            out.append(.init("metadata.namespace", "\"\(ns)\" \(reason)"))
        }
        return out
    }

    /// The webhook's `validateTFReplicaSpecs` and `ValidateRunPolicy`, and the enumerations of
    /// the API types.
    static func webhook(_ spec: JSONValue) -> [ManifestProblem] {
        var out: [ManifestProblem] = []
        if let run = spec["runPolicy"], case .object = run {
            if let c = run["cleanPodPolicy"]?.stringValue, !cleanPodPolicies.contains(c) {
                out.append(.init("spec.runPolicy.cleanPodPolicy", "must be All, Running or None, got \"\(c)\""))
            }
            if let m = run["managedBy"]?.stringValue, !managers.contains(m) {
                out.append(.init("spec.runPolicy.managedBy", "must be \(managers.joined(separator: " or ")), got \"\(m)\""))
            }
            for (key, minimum) in [("activeDeadlineSeconds", 1), ("backoffLimit", 0), ("ttlSecondsAfterFinished", 0)] {
                if let n = run[key]?.intValue, n < minimum {
                    out.append(.init("spec.runPolicy.\(key)", minimum == 1 ? "must be positive, got \(n)" : "must not be negative, got \(n)"))
                }
            }
        }
        if let s = spec["successPolicy"]?.stringValue, !successPolicies.contains(s) {
            out.append(.init("spec.successPolicy", "must be \"\" or AllWorkers, got \"\(s)\""))
        }
        guard let replicas = spec["tfReplicaSpecs"]?.objectValue else { return out }
        if replicas.isEmpty { out.append(.init("spec.tfReplicaSpecs", "must name at least one replica type (Chief, Worker, PS, …)")) }
        var chiefOrMaster: [String] = []
        var canonical: [String: String] = [:]
        for (type, r) in replicas {
            let at = "spec.tfReplicaSpecs." + type
            let known = replicaTypes.first { $0.lowercased() == type.lowercased() }
            if let known {
                if let earlier = canonical[known] { out.append(.init(at, "the same replica type as \(earlier) (replica types are matched in any case)")) }
                canonical[known] = type
                if known == "Chief" || known == "Master" { chiefOrMaster.append(type) }
            } else {
                out.append(.init(at, "is not a TFJob replica type (expected \(replicaTypes.joined(separator: ", ")))"))
            }
            guard case .object = r else { continue }  // the schema reported the type
            if let p = r["restartPolicy"]?.stringValue, !restartPolicies.contains(p) {
                let near = restartPolicies.first { $0.lowercased() == p.lowercased() }
                out.append(.init(at + ".restartPolicy", "must be Always, OnFailure, Never or ExitCode, got \"\(p)\"" + (near.map { " (did you mean \($0)?)" } ?? "")))
            }
            if let n = r["replicas"]?.intValue {
                if n < 0 { out.append(.init(at + ".replicas", "must not be negative, got \(n)")) }
                if (known == "Chief" || known == "Master") && n > 1 {
                    out.append(.init(at + ".replicas", "a TensorFlow cluster has one \(known!.lowercased()), got \(n)"))
                }
            }
            let containersPath = at + ".template.spec.containers"
            guard let containers = r["template"]?["spec"]?["containers"]?.arrayValue, !containers.isEmpty else {
                out.append(.init(containersPath, "required: the replica's pod needs a container named \(containerName)"))
                continue
            }
            var named = false
            for (i, c) in containers.enumerated() {
                let image = c["image"]?.stringValue ?? ""
                if image.trimmingSpaces.isEmpty { out.append(.init("\(containersPath)[\(i)].image", "required")) }
                if c["name"]?.stringValue == containerName { named = true }
            }
            if !named {
                out.append(.init(containersPath, "must have a container named \(containerName) (the operator sets TF_CONFIG and the port on it)"))
            }
        }
        if chiefOrMaster.count > 1 {
            out.append(.init("spec.tfReplicaSpecs", "must not have more than 1 Chief or Master role (it has \(chiefOrMaster.joined(separator: " and ")))"))
        }
        return out
    }

    /// The operator names each replica's pod and service `<job>-<type>-<index>`; a service name
    /// is a DNS-1035 label, so the longest must fit in 63 characters.
    static func podNames(job: String, spec: JSONValue) -> [ManifestProblem] {
        var out: [ManifestProblem] = []
        for (type, r) in spec["tfReplicaSpecs"]?.objectValue ?? [] {
            let count = r["replicas"]?.intValue ?? 1
            guard count > 0 else { continue }
            let longest = "\(job)-\(type.lowercased())-\(count - 1)"
            if longest.utf8.count > 63 {
                out.append(.init("metadata.name", "is too long for replica \(type): its pods and services are named like \(longest) (\(longest.utf8.count) characters, at most 63)"))
            }
        }
        return out
    }

    // MARK: Names

    /// Kubernetes' label rules: a key is an optional DNS-subdomain prefix and `/`, then a name of at
    /// most 63 characters (alphanumerics, `-`, `_`, `.`, alphanumeric at both ends); a value is
    /// empty or such a name.
    static func labels(_ map: JSONValue, at path: String) -> [ManifestProblem] {
        var out: [ManifestProblem] = []
        for (key, value) in map.objectValue ?? [] {
            let parts = key.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts.last ?? "")
            if parts.count == 2 {
                let prefix = String(parts[0])
                if prefix.isEmpty || prefix.utf8.count > 253 || prefix.split(separator: ".", omittingEmptySubsequences: false).contains(where: { dns1123LabelProblem(String($0)) != nil }) {
                    out.append(.init(path + "." + key, "the key's prefix must be a DNS subdomain (lower-case labels joined by dots)"))
                }
            }
            if let reason = labelNameProblem(name, empty: false) { out.append(.init(path + "." + key, "the key's name \(reason)")) }
            if let text = value.stringValue, let reason = labelNameProblem(text, empty: true) { out.append(.init(path + "." + key, "the value \(reason)")) }
        }
        return out
    }

    static func labelNameProblem(_ s: String, empty: Bool) -> String? {
        if s.isEmpty { return empty ? nil : "is empty" }
        if s.utf8.count > 63 { return "is longer than 63 characters" }
        func alnum(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) }
        guard let f = s.unicodeScalars.first, let l = s.unicodeScalars.last, alnum(f), alnum(l) else { return "must start and end with a letter or a digit" }
        for c in s.unicodeScalars where !(alnum(c) || c == "-" || c == "_" || c == ".") { return "may hold only letters, digits, '-', '_' and '.' (found \"\(c)\")" }
        return nil
    }

    /// Why `name` is not a DNS-1035 label (`[a-z]([-a-z0-9]*[a-z0-9])?`, at most 63 characters), or nil.
    public static func dns1035Problem(_ name: String) -> String? {
        if name.isEmpty { return "is empty" }
        if name.utf8.count > 63 { return "is longer than 63 characters" }
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first) else { return "must start with a lower-case letter" }
        return labelBody(name)
    }

    /// Why `name` is not a DNS-1123 label (as DNS-1035, but it may start with a digit), or nil.
    public static func dns1123LabelProblem(_ name: String) -> String? {
        if name.isEmpty { return "is empty" }
        if name.utf8.count > 63 { return "is longer than 63 characters" }
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first) || ("0"..."9").contains(first) else {
            return "must start with a lower-case letter or a digit"
        }
        return labelBody(name)
    }

    private static func labelBody(_ name: String) -> String? {
        for c in name.unicodeScalars where !(("a"..."z").contains(c) || ("0"..."9").contains(c) || c == "-") {
            return "may hold only lower-case letters, digits and '-' (found \"\(c)\")"
        }
        if name.hasSuffix("-") { return "must end with a letter or a digit" }
        return nil
    }

    /// A DNS-1035 label made from `text` (lower case; `_`, `.` and spaces to `-`; other characters
    /// dropped; a leading non-letter gets a `tf-` prefix), for suggesting a job name.
    public static func suggestedName(_ text: String) -> String {
        var s = ""
        for c in text.lowercased().unicodeScalars {
            if ("a"..."z").contains(c) || ("0"..."9").contains(c) || c == "-" { s.unicodeScalars.append(c) } else if c == "_" || c == "." || c == " " { s += "-" }
        }
        if let f = s.unicodeScalars.first, !("a"..."z").contains(f) { s = "tf-" + s }
        if s.isEmpty { s = "trainyard" }
        s = String(s.prefix(50))
        while s.hasSuffix("-") { s.removeLast() }
        return s
    }
}

extension String {
    var trimmingSpaces: Substring {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}
