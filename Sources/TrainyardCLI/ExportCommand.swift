import Foundation
import TrainyardCore
import TrainyardLaunch
import TrainyardPlatform

/// `trainyard export tfjob`: a Kubeflow TFJob manifest from a `train` command line, a submitted
/// job or a template, checked against the TFJob CRD and the operator's webhook before it is
/// written; `--check FILE` checks any manifest.
enum ExportCommand {
    static let exportOptions: [(String, String)] = [
        ("--name NAME", "the TFJob's name, a DNS-1035 label (default with --job: the job's name made one; else required)"),
        ("--image IMAGE", "the image with the role executables (required; the repository's Dockerfile builds one)"),
        ("--namespace NS", "metadata.namespace (default: the one kubectl uses)"),
        ("-o FILE, --output FILE", "write the manifest to FILE, atomically (default: standard output)"),
        ("--format yaml|json", "the manifest's format (default yaml)"),
        ("--job ID", "export a submitted job (`trainyard jobs submit training`) instead of train options"),
        ("--template NAME", "export a saved template (`trainyard jobs create-template`) instead of train options"),
        ("--token-secret NAME", "the Secret holding the job token (default: NAME-token)"),
        ("--token-key KEY", "the token's key in the Secret (default token)"),
        ("--token-env", "pass the token as TRAINYARD_JOB_TOKEN from the Secret instead of a mounted file (TRAINYARD_JOB_TOKEN_FILE)"),
        ("--job-dir-claim PVC", "mount this PersistentVolumeClaim as the job folder (default: an emptyDir, lost with the pod)"),
        ("--mount-path DIR", "where the job folder is mounted, passed to the roles as --job-dir (default /trainyard/job)"),
        ("--clean-pod-policy P", "Running, All or None: which pods go when the job ends (default Running: the ps never exit on their own)"),
        ("--active-deadline-seconds S", "fail the job after S seconds (default: no deadline)"),
        ("--ttl-seconds-after-finished S", "delete the finished TFJob after S seconds, or none (default 86400)"),
        ("--replica-restart-policy ROLE=POLICY", "a role's own restart policy (chief, worker or ps; repeatable) over --restart-policy"),
        ("--image-pull-policy P", "Always, IfNotPresent or Never (default: Kubernetes')"),
        ("--resource-scale F", "requests and limits are the machine type's vCPUs and memory × F (default 1)"),
        ("--check FILE", "validate a TFJob manifest (YAML or JSON, - for standard input) and print each problem with its field path"),
    ]

    static let help = HelpPage(
        usage: "trainyard export tfjob --name NAME --image IMAGE [OPTIONS] [TRAIN OPTIONS | --job ID | --template NAME]",
        summary: "Exports a job to other systems. `export tfjob` writes a Kubeflow TFJob (kubeflow.org/v1) that runs the job on Kubernetes.",
        subcommands: [
            .init(words: ["tfjob"], usage: "trainyard export tfjob --name NAME --image IMAGE [OPTIONS] [TRAIN OPTIONS | --job ID | --template NAME]",
                  summary: "Writes a Kubeflow TFJob (kubeflow.org/v1) with Chief, Worker and PS replicas for `trainyard train`'s options (--scale-tier, the CUSTOM flags, --restart-policy, --backoff-limit, the training options), a submitted job or a template, after checking it against the TFJob CRD's schema and the operator's webhook rules. `--check FILE` checks any manifest: exit 0 when valid, 3 with one `PATH: problem` line per problem. See Docs/beyond-one-machine.md.",
                  options: exportOptions + LaunchSettings.help.filter { !["--start-port P", "--job-dir DIR"].contains($0.0) } + TrainSettings.help),
        ])

    static func run(_ argv: [String]) throws -> ExitCode {
        var args = Arguments(argv)
        if let file = try args.value("--check") {
            guard args.positional() == "tfjob" else { throw UsageError("--check belongs to `trainyard export tfjob --check FILE`") }
            try args.finish()
            return try check(file)
        }
        let name = try args.value("--name")
        let image = try args.value("--image")
        let namespace = try args.value("--namespace")
        let longOutput = try args.value("--output")
        let shortOutput = try args.value("-o")
        let output = longOutput ?? shortOutput
        let format = try args.value("--format") ?? "yaml"
        let jobID = try args.value("--job")
        let template = try args.value("--template")
        let tokenSecret = try args.value("--token-secret")
        let tokenKey = try args.value("--token-key")
        let tokenEnv = try args.flag("--token-env")
        let claim = try args.value("--job-dir-claim")
        let mountPath = try args.value("--mount-path")
        let clean = try args.value("--clean-pod-policy")
        let deadline = try args.int("--active-deadline-seconds", in: 1...Int(Int64.max / 2))
        let ttl = try args.value("--ttl-seconds-after-finished")
        let rolePolicies = try args.values("--replica-restart-policy")
        let pullPolicy = try args.value("--image-pull-policy")
        let scale = try args.double("--resource-scale", in: 0.01...100)
        guard let target = args.positional() else { throw UsageError("export needs a target: trainyard export tfjob …") }
        guard target == "tfjob" else { throw UsageError("unknown export target \"\(target)\" (Trainyard exports tfjob)") }

        // The job: a submitted job, a template, or train's own options (parsed as `train` parses them).
        var settings: LaunchSettings
        var plan: ClusterPlan?
        var defaultName: String?
        if jobID != nil || template != nil {
            guard jobID == nil || template == nil else { throw UsageError("--job and --template cannot be combined: export one of them") }
            try args.finish()
            let spec: JobSpec
            if let jobID {
                guard JobStore.exists(jobID) else { throw UsageError("no job named \(jobID) (`trainyard jobs list` lists them)") }
                spec = try JobStore.load(jobID).spec
                defaultName = TFJobCheck.suggestedName(jobID)
            } else {
                spec = try JobService.loadTemplate(template!)
                defaultName = TFJobCheck.suggestedName(template!)
            }
            guard spec.builtIn else {
                throw RuntimeFailure("\(jobID.map { "job \($0)" } ?? "template \(template!)") runs a program of its own (--module-name or --command): `export tfjob` exports Trainyard's built-in trainer, whose roles the image holds", exitCode: .invalidInput)
            }
            settings = LaunchSettings()
            plan = try JobService.clusterPlan(spec, catalog: try Catalog.load())
            settings.topology = JobService.topology(spec, plan: plan)
            settings.restartPolicy = spec.effectiveRestartPolicy
            settings.backoffLimit = spec.backoffLimit
            do {
                var a = Arguments(spec.userArgs)
                settings.training = try TrainSettings.parse(&a)
                try a.finish()
                try settings.training.validate()
            } catch {
                throw RuntimeFailure("the trainer's arguments of \(jobID.map { "job \($0)" } ?? "template \(template!)"): \(error.message)", exitCode: .invalidInput)
            }
        } else {
            settings = try LaunchSettings.parse(args.items)
            if settings.startPort != nil {
                throw UsageError("--start-port does not apply to a TFJob: every task listens on port 2222 of its own pod")
            }
            if settings.jobDirectory != nil {
                throw UsageError("--job-dir is a folder on this machine; in the pods the job folder is a volume: give --job-dir-claim PVC (and --mount-path DIR)")
            }
            if settings.scaleTier != nil {
                plan = try Catalog.plan(for: settings, catalog: try Catalog.load(settings.tiersDirectory))
                settings.topology = plan!.topology
            }
        }
        try settings.topology.checkTrainable(hint: "--ps N, or --parameter-server-count N with --parameter-server-machine-type TYPE")
        let trainers = settings.topology.chiefs + settings.topology.workers
        if let k = ResourceCheck.tooManyToAggregate(settings.training, trainers: trainers) {
            let what = "--replicas-to-aggregate \(k): the TFJob would have \(trainers) training task\(trainers == 1 ? "" : "s") (the chief and the workers), and \(ResourceCheck.aggregationLimit)"
            if jobID != nil || template != nil {
                throw RuntimeFailure("the trainer's arguments of \(jobID.map { "job \($0)" } ?? "template \(template!)"): \(what)", exitCode: .invalidInput)
            }
            throw UsageError("\(what): use --replicas-to-aggregate \(trainers) or less, or more --workers")
        }

        guard let image, !image.isEmpty else {
            throw UsageError("--image is required: the container image with trainyard-chief, trainyard-worker and trainyard-ps (build one with the repository's Dockerfile: docker build -t REGISTRY/trainyard:TAG .)")
        }
        guard let jobName = name ?? defaultName else { throw UsageError("--name is required: the TFJob's name, a DNS-1035 label such as mnist-1") }
        if let problem = TFJobCheck.dns1035Problem(jobName) {
            throw UsageError("--name \"\(jobName)\" \(problem): a TFJob's name is a DNS-1035 label (lower-case letters, digits and '-', starting with a letter), e.g. \(TFJobCheck.suggestedName(jobName))")
        }
        guard format == "yaml" || format == "json" else { throw UsageError("--format must be yaml or json, got \"\(format)\"") }

        var export = TFJobExport(name: jobName, image: image, topology: settings.topology, tokenSecret: tokenSecret)
        export.namespace = namespace
        export.plan = plan
        export.training = settings.training
        export.restartPolicy = settings.restartPolicy
        export.rolePolicies = settings.rolePolicies
        export.backoffLimit = settings.backoffLimit
        for pair in rolePolicies {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let role = ["chief": TaskType.chief, "master": .chief, "worker": .worker, "ps": .ps][parts[0].lowercased()] else {
                throw UsageError("--replica-restart-policy takes ROLE=POLICY with ROLE chief, worker or ps, got \"\(pair)\"")
            }
            do { export.rolePolicies[role] = try RestartPolicy(parsing: parts[1]) } catch { throw UsageError("--replica-restart-policy \(pair): \(error.message)") }
        }
        if let tokenKey { export.tokenKey = tokenKey }
        export.tokenDelivery = tokenEnv ? .env : .file
        export.jobDirClaim = claim
        if let mountPath {
            guard mountPath.hasPrefix("/"), mountPath != "/" else { throw UsageError("--mount-path must be an absolute folder other than /, got \"\(mountPath)\"") }
            export.jobDirMountPath = mountPath
        }
        if let clean {
            guard let c = TFJobCheck.cleanPodPolicies.first(where: { $0.lowercased() == clean.lowercased() }) else {
                throw UsageError("--clean-pod-policy must be Running, All or None, got \"\(clean)\"")
            }
            export.cleanPodPolicy = c
        }
        export.activeDeadlineSeconds = deadline
        if let ttl {
            if ttl == "none" { export.ttlSecondsAfterFinished = nil } else {
                guard let n = Int(ttl), (0...Int(Int32.max)).contains(n) else { throw UsageError("--ttl-seconds-after-finished takes seconds (0...2147483647) or none, got \"\(ttl)\"") }
                export.ttlSecondsAfterFinished = n
            }
        }
        if let pullPolicy {
            guard let p = ["Always", "IfNotPresent", "Never"].first(where: { $0.lowercased() == pullPolicy.lowercased() }) else {
                throw UsageError("--image-pull-policy must be Always, IfNotPresent or Never, got \"\(pullPolicy)\"")
            }
            export.imagePullPolicy = p
        }
        if let scale { export.resourceScale = scale }
        if plan == nil {
            Posix.write("trainyard: warning: no scale tier, so no machine types: the pods get no resource requests or limits (give --scale-tier)\n", to: 2)
        }

        let manifest = export.manifest()
        // The self-check: an export the cluster would refuse is a bug here, not the user's.
        let problems = TFJobCheck.problems(manifest)
        guard problems.isEmpty else {
            throw RuntimeFailure("the exported TFJob does not pass its own check (please report this):\n" + problems.map { "  \($0)" }.joined(separator: "\n"), exitCode: .failure)
        }
        for w in export.warnings { Posix.write("trainyard: warning: \(w)\n", to: 2) }
        let text = format == "json" ? manifest.prettySerialized() + "\n" : manifest.yamlSerialized()
        if let output, output != "-" {
            do { try Files.writeAtomically(text, to: output) } catch {
                throw RuntimeFailure("cannot write \(output): \(error)", exitCode: .systemError)
            }
            Posix.write("trainyard: wrote TFJob \(jobName) to \(output) (\(export.replicas.map { "\($0.count) \($0.type)" }.joined(separator: ", ")))\n", to: 2)
        } else {
            Posix.write(text, to: 1)
        }
        return .success
    }

    /// `--check FILE`: every problem with its path on stdout; exit 0 when valid, 3 when not.
    static func check(_ file: String) throws -> ExitCode {
        let text: String
        do {
            text = file == "-" ? String(decoding: try Signals.readAllUnlessInterrupted(0, "standard input"), as: UTF8.self) : try Files.readText(file)
        } catch let interrupted as Signals.Interrupted {
            throw interrupted
        } catch {
            throw RuntimeFailure("cannot read \(file): \(error)", exitCode: .invalidInput)
        }
        // A kubectl file may hold several documents (a Secret, a claim, the TFJob): each TFJob is checked.
        let documents: [JSONValue]
        if YAMLParser.looksLikeJSON(text) {
            documents = [try JSONField.parse(text, source: file).value]
        } else {
            do { documents = try YAMLParser.parseDocuments(text) } catch { throw FieldError(source: file, path: "", error.description) }
        }
        guard !documents.isEmpty else { throw FieldError(source: file, path: "", "is empty: no TFJob to check") }
        var problems: [String] = []
        var checked = 0
        for (i, document) in documents.enumerated() {
            let place = documents.count == 1 ? "\(file)" : "\(file): document \(i + 1)"
            if documents.count > 1, let kind = document["kind"]?.stringValue, kind != "TFJob" {
                Posix.write("trainyard: \(place) is a \(kind), not a TFJob: not checked\n", to: 2)
                continue
            }
            checked += 1
            problems += TFJobCheck.problems(document).map { "\(place): \($0)" }
            for w in TFJobCheck.warnings(document) { Posix.write("trainyard: warning: \(place): \(w)\n", to: 2) }
        }
        guard checked > 0 else { throw FieldError(source: file, path: "", "holds no TFJob (its \(documents.count) documents are of other kinds)") }
        if problems.isEmpty {
            let what = checked == 1 ? "a valid TFJob" : "\(checked) valid TFJobs"
            print("\(file): \(what) (kubeflow.org/v1 schema of training-operator release-1.9, and the operator's webhook rules)")
            return .success
        }
        // A hostile file may hold millions of problems: the first 200 say enough.
        for p in problems.prefix(200) { print(p) }
        if problems.count > 200 { print("\(file): … and \(problems.count - 200) more") }
        Posix.write("trainyard: error: \(file): \(problems.count) problem\(problems.count == 1 ? "" : "s"): not a valid TFJob\n", to: 2)
        return .invalidInput
    }
}
