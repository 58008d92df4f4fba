"""Domain-incremental digits in one process: a KB server, a cloud trainer per step, an edge that hot-swaps.

Origins identity, rotate and flip arrive one by one (the first trains, the next update the
knowledge base); an unseen origin, invert, arrives last and is recognised and saved for labelling.

    python examples/lifelong_learning/digits/run.py [workdir]
"""

import dataclasses
import pathlib
import sys
import tempfile

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.lifelong_learning import LifelongLearning, Samples
from sedna_lib.servers.knowledge_base import KBServer

ALGOS = {"task_definition": {"method": "TaskDefinitionByOrigin"},
         "task_allocation": {"method": "TaskAllocationByNearestTask"},
         "unseen_sample_recognition": {"method": "SampleRegonitionDefault", "param": {"quantile": 0.99}}}


def origin(x, name):
    imgs = x.reshape(-1, 8, 8)
    out = {"identity": imgs, "rotate": np.rot90(imgs, 1, axes=(1, 2)), "flip": imgs[:, :, ::-1],
           "invert": 1.0 - imgs}[name]
    return np.ascontiguousarray(out).reshape(len(x), -1)


def main(workdir):
    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    train, test = np.arange(0, 1200), np.arange(1200, len(x))
    server = KBServer("127.0.0.1", 0, save_dir=str(workdir / "kb"),
                      db_url=f"sqlite:///{workdir / 'kb.sqlite3'}").run_in_thread()
    base = Config(kb_server=server.url, output_url=str(workdir / "cloud"), edge_output_url=str(workdir / "edge"),
                  lc_server="http://127.0.0.1:9", max_retries=0, connect_timeout_s=0.2)
    index_url = f"{server.url}/knowledgebase/file/download?files=index.pkl&name=index.pkl"
    edge = LifelongLearning(LogisticRegression(max_iter=300), **ALGOS,
                            context=Context(dataclasses.replace(base, model_urls=(index_url,))))
    try:
        for step, name in enumerate(["identity", "rotate", "flip"]):
            cfg = dataclasses.replace(base, has_completed_initial_training=step > 0)  # HAS_COMPLETED_INITIAL_TRAINING
            cloud = LifelongLearning(LogisticRegression(max_iter=300), **ALGOS, context=Context(cfg))
            xs = origin(x[train], name)
            print(f"step {step}: {name}", cloud.train(Samples(xs, y[train], np.full(len(xs), name))))
            edge.reload_index()
            for seen in ["identity", "rotate", "flip"]:
                pred, unseen, tasks = edge.inference(Samples(origin(x[test], seen)))
                print(f"   {seen:9s} accuracy {np.mean(pred == y[test]):.3f}  unseen {np.mean(unseen):.1%}")
        _, unseen, _ = edge.inference(Samples(origin(x[test], "invert")))
        print(f"invert: {np.mean(unseen):.1%} recognised as unseen; saved in {workdir / 'edge' / 'unseen_samples'}")
    finally:
        server.stop()


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="ll-digits-")))
