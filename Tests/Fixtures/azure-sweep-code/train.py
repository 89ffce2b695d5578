# A tiny trial for the Azure ML sweep fixture: reads its hyperparameters as Azure's command
# passes them, and logs the primary metric as Trainyard reads it (one line per interval).
import argparse
import json
import os

parser = argparse.ArgumentParser()
parser.add_argument("--learning_rate", type=float, required=True)
parser.add_argument("--boosting", required=True)
parser.add_argument("--epochs", type=int, required=True)
parser.add_argument("--data", required=True)
args = parser.parse_args()

# The working directory is the code folder itself.
assert os.path.exists("train.py"), "not run from the code folder"
tf_config = json.loads(os.environ.get("TF_CONFIG", "{}"))
print("trial", tf_config.get("task", {}).get("trial"), "greeting", os.environ.get("GREETING"), "data", args.data, flush=True)
for epoch in range(1, args.epochs + 1):
    accuracy = min(0.99, 0.5 + args.learning_rate * epoch + (0.05 if args.boosting == "gbdt" else 0.0))
    print(f"trainyard-metric accuracy={accuracy:.4f} step={epoch}", flush=True)
