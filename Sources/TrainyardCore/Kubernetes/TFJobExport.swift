/// Builds the Kubeflow TFJob (kubeflow.org/v1) that runs a Trainyard job on Kubernetes: one
/// replica spec per role (Chief or Master, Worker, PS) whose container `tensorflow` runs the role
/// executable of the image with the job's training arguments; requests and limits from the
/// machine types of the tier; Trainyard's restart policies (the same names as TFJob's); the job
/// token from a Secret; the job folder on a volume. Pure: `manifest()` returns the document,
/// `warnings` what the user should know about it. `TFJobCheck` validates the result.
public struct TFJobExport: Sendable {
    /// How a role finds the job token in its pod.
    public enum TokenDelivery: String, Sendable, CaseIterable {
        /// The Secret mounted as a file, named by `TRAINYARD_JOB_TOKEN_FILE` (default: the value
        /// never sits in the process environment).
        case file
        /// `TRAINYARD_JOB_TOKEN` from the Secret (`env.valueFrom.secretKeyRef`).
        case env
    }

    /// metadata.name: a DNS-1035 label.
    public var name: String
    public var namespace: String?
    /// The image holding the role executables (the repository's Dockerfile builds one).
    public var image: String
    public var imagePullPolicy: String?
    public var topology: Topology
    /// The tier's machines, for requests and limits; nil = no resources (a cluster by counts).
    public var plan: ClusterPlan?
    public var training = TrainSettings()
    /// Each role's restart policy (keys chief, worker, ps); a role without one gets `restartPolicy`.
    public var restartPolicy = RestartPolicy.onFailure
    public var rolePolicies: [TaskType: RestartPolicy] = [:]
    public var backoffLimit = 3
    public var cleanPodPolicy = "Running"
    public var activeDeadlineSeconds: Int?
    public var ttlSecondsAfterFinished: Int? = 86_400
    /// The Secret holding the job token, and its key.
    public var tokenSecret: String
    public var tokenKey = "token"
    public var tokenDelivery = TokenDelivery.file
    /// A PersistentVolumeClaim for the job folder; nil = an emptyDir per pod (lost with the pod).
    public var jobDirClaim: String?
    /// Where the job folder is mounted in each pod, passed to the roles as `--job-dir`.
    public var jobDirMountPath = "/trainyard/job"
    /// TFJob's default port (`tfjob-port`), which the operator writes into TF_CONFIG.
    public var port = 2222
    /// Multiplies the machine types' vCPUs and memory (a node's allocatable is below its size).
    public var resourceScale = 1.0

    /// The uid and gid the repository's Dockerfile runs the roles as.
    public static let imageUser = 1000

    /// Where the Secret is mounted when the token comes as a file.
    public static let tokenMountPath = "/var/run/secrets/trainyard"

    public init(name: String, image: String, topology: Topology, tokenSecret: String? = nil) {
        self.name = name
        self.image = image
        self.topology = topology
        self.tokenSecret = tokenSecret ?? name + "-token"
    }

    /// The replica types in manifest order with their role: the TFJob key, Trainyard's task type,
    /// the role executable and the count.
    public var replicas: [(type: String, role: TaskType, command: String, count: Int)] {
        var r: [(String, TaskType, String, Int)] = [(topology.useMasterName ? "Master" : "Chief", .chief, "trainyard-chief", topology.chiefs)]
        if topology.workers > 0 { r.append(("Worker", .worker, "trainyard-worker", topology.workers)) }
        if topology.parameterServers > 0 { r.append(("PS", .ps, "trainyard-ps", topology.parameterServers)) }
        return r
    }

    public func policy(for role: TaskType) -> RestartPolicy { rolePolicies[role.isChief ? .chief : role] ?? restartPolicy }

    /// The arguments every role runs with: the job folder and the training settings.
    public var roleArguments: [String] { ["--job-dir", jobDirMountPath] + training.roleArguments }

    /// The TFJob document, keys in the order `kubectl` prints them.
    public func manifest() -> JSONValue {
        var meta: [(String, JSONValue)] = [("name", .string(name))]
        if let namespace { meta.append(("namespace", .string(namespace))) }
        meta.append(("labels", .object([("app.kubernetes.io/name", "trainyard"), ("app.kubernetes.io/instance", .string(name))])))

        var run: [(String, JSONValue)] = [("cleanPodPolicy", .string(cleanPodPolicy)), ("backoffLimit", JSONValue(backoffLimit))]
        if let activeDeadlineSeconds { run.append(("activeDeadlineSeconds", JSONValue(activeDeadlineSeconds))) }
        if let ttlSecondsAfterFinished { run.append(("ttlSecondsAfterFinished", JSONValue(ttlSecondsAfterFinished))) }

        let specs: [(String, JSONValue)] = replicas.map { r in
            (r.type, .object([
                ("replicas", JSONValue(r.count)),
                ("restartPolicy", .string(policy(for: r.role).rawValue)),
                ("template", .object([
                    ("metadata", .object([("labels", .object([("app.kubernetes.io/name", "trainyard"), ("app.kubernetes.io/instance", .string(name)),
                                                              ("trainyard/role", .string(r.role == .chief ? "chief" : r.role.rawValue))]))])),
                    ("spec", podSpec(role: r.role, command: r.command)),
                ])),
            ]))
        }
        return .object([
            ("apiVersion", "kubeflow.org/v1"),
            ("kind", "TFJob"),
            ("metadata", .object(meta)),
            ("spec", .object([("runPolicy", .object(run)), ("tfReplicaSpecs", .object(specs))])),
        ])
    }

    func podSpec(role: TaskType, command: String) -> JSONValue {
        var env: [JSONValue] = []
        var mounts: [JSONValue] = [.object([("name", "job-dir"), ("mountPath", .string(jobDirMountPath))])]
        var volumes: [JSONValue] = [
            .object([("name", "job-dir"),
                     jobDirClaim.map { ("persistentVolumeClaim", .object([("claimName", .string($0))])) } ?? ("emptyDir", .object([]))]),
        ]
        switch tokenDelivery {
        case .file:
            env.append(.object([("name", "TRAINYARD_JOB_TOKEN_FILE"), ("value", .string(TFJobExport.tokenMountPath + "/" + tokenKey))]))
            mounts.append(.object([("name", "job-token"), ("mountPath", .string(TFJobExport.tokenMountPath)), ("readOnly", true)]))
            volumes.append(.object([("name", "job-token"), ("secret", .object([
                ("secretName", .string(tokenSecret)), ("defaultMode", 0o440),
                ("items", .array([.object([("key", .string(tokenKey)), ("path", .string(tokenKey))])])),
            ]))]))
        case .env:
            env.append(.object([("name", "TRAINYARD_JOB_TOKEN"), ("valueFrom", .object([
                ("secretKeyRef", .object([("name", .string(tokenSecret)), ("key", .string(tokenKey))])),
            ]))]))
        }
        env.append(.object([("name", "TRAINYARD_LISTEN_HOST"), ("value", "0.0.0.0")]))

        var container: [(String, JSONValue)] = [("name", .string(TFJobCheck.containerName)), ("image", .string(image))]
        if let imagePullPolicy { container.append(("imagePullPolicy", .string(imagePullPolicy))) }
        container += [
            ("command", .array([.string(command)])),
            ("args", JSONValue(roleArguments)),
            ("env", .array(env)),
            ("ports", .array([.object([("name", "tfjob-port"), ("containerPort", JSONValue(port)), ("protocol", "TCP")])])),
        ]
        if let resources = resources(for: role) { container.append(("resources", resources)) }
        container.append(("volumeMounts", .array(mounts)))
        // The image's user (Dockerfile: uid 1000); fsGroup makes the claim writable and the token
        // file (mode 0440, group fsGroup) readable for it.
        let security: JSONValue = .object([("runAsNonRoot", true), ("runAsUser", JSONValue(TFJobExport.imageUser)),
                                           ("runAsGroup", JSONValue(TFJobExport.imageUser)), ("fsGroup", JSONValue(TFJobExport.imageUser))])
        return .object([("securityContext", security), ("containers", .array([.object(container)])), ("volumes", .array(volumes))])
    }

    /// Requests equal to limits (the Guaranteed class: a task gets what its machine type has),
    /// from the role's machine type: vCPUs as CPUs, memory in MiB (machine types give GiB, as
    /// Compute Engine does), NVIDIA accelerators as `nvidia.com/gpu`.
    func resources(for role: TaskType) -> JSONValue? {
        guard let plan, let machine = plan.machineType(of: TaskID(role == .chief ? topology.chiefType : role, 0)) else { return nil }
        var list: [(String, JSONValue)] = []
        if machine.vcpus > 0 {
            let millis = Int((Double(machine.vcpus) * resourceScale * 1000).rounded())
            list.append(("cpu", .string(millis % 1000 == 0 ? String(millis / 1000) : "\(max(1, millis))m")))
        }
        if machine.memoryGB > 0 {
            list.append(("memory", .string("\(max(1, Int((machine.memoryGB * 1024 * resourceScale).rounded())))Mi")))
        }
        let gpus = machine.accelerators.filter { $0.type.lowercased().hasPrefix("nvidia") }.reduce(0) { $0 + $1.count }
        var limits = list
        if gpus > 0 { limits.append(("nvidia.com/gpu", .string(String(gpus)))) }
        guard !limits.isEmpty else { return nil }
        return .object([("requests", .object(list)), ("limits", .object(limits))])
    }

    /// What the user should know about this export (printed on stderr by the command).
    public var warnings: [String] {
        var out: [String] = []
        if jobDirClaim == nil {
            out.append("the job folder is an emptyDir in each pod: checkpoints, metrics and the model are lost when the pod goes, and a restarted chief cannot resume; give --job-dir-claim PVC (ReadWriteMany when pods may land on several nodes)")
        }
        let restarting = replicas.filter { [.onFailure, .always].contains(policy(for: $0.role)) }
        if !restarting.isEmpty {
            out.append("restartPolicy \(restarting.map { "\($0.type) \(policy(for: $0.role).rawValue)" }.joined(separator: ", ")): TFJob restarts a container that exits 3 (invalid input) or 6 (the job cannot succeed), which Trainyard never restarts, until backoffLimit (\(backoffLimit) restarts for the whole job); ExitCode keeps them permanent")
        }
        for r in replicas {
            if r.role == .chief && policy(for: r.role) == .always {
                out.append("\(r.type) restartPolicy Always: the kubelet restarts the chief even after it exits 0, so the TFJob never succeeds; use OnFailure or ExitCode")
            }
        }
        if cleanPodPolicy == "None" && topology.parameterServers > 0 {
            out.append("cleanPodPolicy None: parameter servers never exit on their own, so their pods keep running after the chief finishes; use Running (the default here) or All")
        }
        switch training.dataset {
        case .synthetic: break
        case .csv(let path), .idx(let path, _):
            out.append("--dataset reads \(path) inside each pod: put the data in the image or on the job-dir volume, and give its path there")
        }
        if training.startupTimeout < 300 {
            out.append("--startup-timeout is \(JSONValue.format(training.startupTimeout)) s: pods may take minutes to be scheduled and to pull the image, and a task that is not up by then fails; consider --startup-timeout 600")
        }
        if let plan, let worker = plan.worker, worker.vcpus == 0, plan.workerCount > 0 {
            out.append("the tier's \(plan.workerCount) \(worker.name) workers are accelerators without vCPUs: they run no process and are left out")
        }
        return out
    }
}
