"""Fill an MLflow tracking server the way a team would, with MLflow's own client; run by the
import tests and scripts/bench_import.py in MLflow's own environment
(`python mlflow_populate.py URL full|small|bench [VERSIONS]`)."""
from __future__ import annotations

import json
import os
import sys
import tempfile
import warnings

warnings.simplefilter("ignore")  # MLflow warns that its legacy stages are deprecated

import mlflow  # noqa: E402
import pandas as pd  # noqa: E402
from mlflow import MlflowClient  # noqa: E402

MIB = 1 << 20


def log_files(size: int, seed: int) -> str:
    """A model folder: weights of `size` bytes, a nested config."""
    folder = tempfile.mkdtemp()
    os.makedirs(f"{folder}/model/conf")
    with open(f"{folder}/model/weights.bin", "wb") as fh:
        fh.write(os.urandom(size))
    with open(f"{folder}/model/conf/params.json", "w") as fh:
        json.dump({"seed": seed}, fh)
    return f"{folder}/model"


def run_version(client: MlflowClient, model: str, index: int, size: int) -> str:
    """One run with params, a metric history, tags and a dataset, registered from runs:/."""
    with mlflow.start_run(run_name=f"{model}-{index}") as run:
        mlflow.log_params({"learning_rate": 0.05 * (index + 1), "max depth": 4 + index})
        for step in range(3):
            mlflow.log_metric("auc", 0.80 + 0.02 * index + 0.001 * step, step=step)
        mlflow.log_metric("loss", 0.5 - 0.03 * index)
        mlflow.set_tags({"team": "risk", "mlflow.source.git.commit": f"{index:040x}"})
        frame = pd.DataFrame({"x": [1, 2, 3], "y": [0, 1, 0]})
        mlflow.log_input(mlflow.data.from_pandas(frame, name=f"{model}-train"), context="training")
        mlflow.log_artifacts(log_files(size, index), "model")
    version = client.create_model_version(model, f"runs:/{run.info.run_id}/model",
                                          run.info.run_id, description=f"{model} #{index}",
                                          tags={"owner": "ana", "index": str(index)})
    return version.version


class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input):
        return model_input


def logged_model_version(model: str) -> str:
    """An MLflow 3 logged model (source models:/m-...), registered by name."""
    with mlflow.start_run(run_name=f"{model}-logged"):
        mlflow.log_param("kind", "echo")
        mlflow.log_metric("auc", 0.9)
        info = mlflow.pyfunc.log_model(name="model", python_model=Echo(),
                                       pip_requirements=["pandas"])
    return mlflow.register_model(info.model_uri, model).version


def full(client: MlflowClient) -> None:
    mlflow.set_experiment("credit")
    client.create_registered_model("churn", tags={"domain": "crm"}, description="Churn model")
    for index in range(4):
        run_version(client, "churn", index, 3 * MIB)
    client.transition_model_version_stage("churn", "1", "Archived")
    client.transition_model_version_stage("churn", "3", "Production")
    client.transition_model_version_stage("churn", "4", "Staging")
    client.set_registered_model_alias("churn", "champion", "3")
    client.create_registered_model("fraud")
    for index in range(3):
        run_version(client, "fraud", index, MIB)
    client.delete_model_version("fraud", "2")  # a gap: version numbers here differ
    client.transition_model_version_stage("fraud", "3", "Production")
    client.create_registered_model("ranker", description="Ranks offers")
    run_version(client, "ranker", 0, 2 * MIB)
    logged_model_version("ranker")
    client.set_registered_model_alias("ranker", "Shadow_Test", "2")


def small(client: MlflowClient) -> None:
    mlflow.set_experiment("small")
    client.create_registered_model("tiny")
    run_version(client, "tiny", 0, MIB)
    client.transition_model_version_stage("tiny", "1", "Production")


def bench(client: MlflowClient, versions: int) -> None:
    """`versions` versions of one model, 1 MiB of weights each, one run per version."""
    mlflow.set_experiment("bench")
    client.create_registered_model("bench")
    for index in range(versions):
        run_version(client, "bench", index, MIB)
    client.transition_model_version_stage("bench", str(versions), "Production")


if __name__ == "__main__":
    mlflow.set_tracking_uri(sys.argv[1])
    if sys.argv[2] == "bench":
        bench(MlflowClient(), int(sys.argv[3]))
    else:
        {"full": full, "small": small}[sys.argv[2]](MlflowClient())
