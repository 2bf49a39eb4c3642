"""brainattr.workflow: the helpers the Snakefile and scripts share."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd

from brainattr.dataset import DatasetWriter
from brainattr.progress import Progress
from brainattr.workflow import THREAD_VARIABLES, dataset_provides


def _local(tmp_path, **parts):
    # two runs of one TR each (leave-one-run-out needs two)
    words = pd.DataFrame(
        {"word_index": [0, 1], "word": ["a", "b"], "onset": [0.0, 2.5], "offset": [0.5, 3.0],
         "run": [1, 2]}
    )  # fmt: skip
    trs = pd.DataFrame({"tr_index": [0, 1], "onset": [0.0, 2.0], "run": [1, 2], "kept": [1, 1]})
    with DatasetWriter(tmp_path, "mine", 2.0, words, trs) as w:
        w.add_subject("s1", np.zeros((2, 3)), **parts)
        if parts.get("repeats"):
            w.add_word_groups(pd.DataFrame({"word_index": [0, 1], "g": [True, False]}))
    return {"datasets": {"mine": {"source": "local", "path": str(tmp_path)}}}


def test_dataset_provides_by_source(tmp_path):
    cfg = {
        "datasets": {
            "d0": {"source": "demo", "demo": {"n_repeats": 0, "n_subjects": 1}},
            "d2": {"source": "demo", "demo": {"n_repeats": 2, "n_subjects": 1}},
            "d3": {"source": "demo", "demo": {"n_repeats": 0, "n_subjects": 3}},
            "hp": {"source": "hp_toneva"},
            "hp8": {"source": "hp_toneva", "subjects": ["F", "H"]},
            "cmu": {"source": "hp_cmu"},
            "mrh": {"source": "mrh"},
            "gone": {"source": "local", "path": str(tmp_path / "nothing")},
        }
    }
    # a noise ceiling needs repeats or, between subjects, two or more subjects
    assert dataset_provides(cfg, "d0") == {"word_groups", "voxel_coords"}
    assert dataset_provides(cfg, "d2") == {"word_groups", "voxel_coords", "repeats", "ceiling"}
    assert dataset_provides(cfg, "d3") == {"word_groups", "voxel_coords", "subjects", "ceiling"}
    assert dataset_provides(cfg, "hp") == {"word_groups"}
    assert dataset_provides(cfg, "hp8") == {"word_groups", "subjects", "ceiling"}
    assert dataset_provides(cfg, "cmu") == {"word_groups", "voxel_coords"}
    assert dataset_provides(cfg, "mrh") == {"repeats", "ceiling"}
    assert dataset_provides(cfg, "gone") == set()


def test_dataset_provides_reads_a_local_folder(tmp_path):
    assert dataset_provides(_local(tmp_path / "plain"), "mine") == set()
    full = _local(
        tmp_path / "full",
        repeats={1: np.zeros((2, 1, 3))},
        voxel_ijk=np.zeros((3, 3), int),
        affine=np.eye(4),
    )
    assert dataset_provides(full, "mine") == {"word_groups", "repeats", "voxel_coords", "ceiling"}


def test_progress_writes_a_bar_to_stderr(capsys):
    with Progress(4, "attribution", "target", interval=0) as bar:
        for _ in range(4):
            bar.update()
    err = capsys.readouterr().err
    assert "attribution" in err and "4/4" in err


def _job_threads(tmp_path, flags: str) -> str:
    # a fresh interpreter, as a Snakemake job: setup_script first, then the job's imports
    code = (
        "import sys\n"
        "from brainattr.workflow import setup_script\n"
        f"setup_script({str(tmp_path / 'job.log')!r}, 1{flags})\n"
        "early = 'torch' in sys.modules\n"
        "import torch\n"
        "print(early, torch.get_num_threads())\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    return res.stdout.split()


def test_setup_script_gives_the_job_its_threads_without_importing_torch(tmp_path):
    # an analysis or figure job never pays torch's import, and a later import still gets the
    # job's one thread (torch's default here is one per core)
    assert _job_threads(tmp_path, "") == ["False", "1"]
    assert _job_threads(tmp_path, ", model_job=True") == ["False", "1"]


def test_a_plot_job_sets_blas_threads_before_matplotlib_loads_numpy(tmp_path):
    code = (
        "from brainattr.workflow import setup_script\n"
        f"setup_script({str(tmp_path / 'job.log')!r}, 1, plots=True)\n"
        "from threadpoolctl import threadpool_info\n"
        "print(sorted({p['num_threads'] for p in threadpool_info()}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[1]"
