import Foundation
import TrainyardCore
import TrainyardPlatform

/// The trained model the chief leaves in `<job-dir>/model/`: `weights.tyckpt` (the checkpoint
/// format, without optimizer state) and `model.json` describing it. Both are read back after they
/// are written (bytes, checksum, JSON); `write` throws, naming the file, when either does not.
public enum ModelExport {
    public static func write(architecture: MLPArchitecture, parameters: [Float], globalStep: Int64, settings: TrainSettings,
                             evaluation: (loss: Double, accuracy: Double), jobDirectory: String) throws {
        let dir = jobDirectory + "/model"
        try Files.createDirectory(dir)
        let weights = Checkpoint(globalStep: globalStep, incarnation: 0, architecture: architecture, parameters: parameters)
        let bytes = weights.encoded()
        try Files.writeAtomically(bytes, to: dir + "/weights.tyckpt")
        try CheckpointStore.verify(dir + "/weights.tyckpt", holds: bytes)
        let description: JSONValue = [
            "format": "trainyard-mlp",
            "version": 1,
            "architecture": ["inputs": JSONValue(architecture.inputs), "hidden": .array(architecture.hidden.map { JSONValue($0) }),
                             "classes": JSONValue(architecture.classes), "activation": "relu", "output": "softmax"],
            "parameters": JSONValue(architecture.parameterCount),
            "weights": "weights.tyckpt",
            "global_step": JSONValue(Int(globalStep)),
            "metrics": ["eval_loss": JSONValue(evaluation.loss), "eval_accuracy": JSONValue(evaluation.accuracy)],
            "training": ["dataset": .string(settings.dataset.description), "seed": JSONValue(Int(settings.seed)),
                         "batch_size": JSONValue(settings.batchSize), "learning_rate": JSONValue(settings.learningRate),
                         "optimizer": .string(settings.optimizer.rawValue)],
            "created": .string(ISO8601DateFormatter().string(from: Date())),
        ]
        let text = description.prettySerialized() + "\n"
        try Files.writeAtomically(text, to: dir + "/model.json")
        let back = try Files.readText(dir + "/model.json")
        guard back == text, (try? JSONParser.parse(back)) != nil else {
            throw ReadBackError(path: dir + "/model.json", reason: "does not read back as written")
        }
    }
}
