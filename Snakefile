# brainattr: which words make a language model's representations predict brain activity.
# Run: snakemake --cores N  (config/config.yaml = the embedded demo; --configfile for others)
import os
import sys
from pathlib import Path

from snakemake.settings.types import DeploymentMethod
from snakemake.utils import min_version, validate

min_version("9.0")

# this file's folder: also when another workflow imports this one as a `module` (there
# workflow.basedir is the importing workflow's)
BASEDIR = Path(str(workflow.current_basedir))
SRC = str(BASEDIR / "src")
# for this file's own imports only: jobs import the installed package (make install, or the
# conda envs' post-deploy scripts, which read BRAINATTR_ROOT), checked below
sys.path.insert(0, SRC)
os.environ.update(BRAINATTR_ROOT=str(BASEDIR))  # set, not required: no envvars directive

from brainattr.analysis_stage import ANALYSIS_TABLES  # noqa: E402
from brainattr.config import validate_config  # noqa: E402
from brainattr.dataset import COMMON_FILES  # noqa: E402
from brainattr.figure_registry import FIGURES, config_value, figures_for  # noqa: E402
from brainattr.plan_checks import check_job_package, plan_checks  # noqa: E402
from brainattr.sources import DOWNLOADED, remote_files  # noqa: E402
from brainattr.workflow import dataset_dir, dataset_provides, download_dir  # noqa: E402

# The demo config is the default only: a --configfile replaces it rather than merging into it
# (merged, the demo's dataset and model would join every other run).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


config.update(validate_config(config, BASEDIR / "workflow/schemas/config.schema.yaml"))
# the catalog's convention on top: the same schema through Snakemake (defaults already set)
validate(config, str(BASEDIR / "workflow/schemas/config.schema.yaml"), set_default=True)
check_job_package(SRC, DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method)
plan_checks(config)  # model paths and depths, local datasets and their ROIs: before any job

DATA_DIR = config["data_dir"]
DATASETS = list(config["datasets"])
MODELS = list(config["models"])
CONTEXTS = config["features"]["context_words"]
N_DELAYS = len(config["features"]["delays"])
RUN = "results/{dataset}/{model}/ctx{context}"
# models that read their own features (a control entry reads its model's)
OWN_FEATURES = [m for m in MODELS if "control_of" not in config["models"][m]]
# feature kinds beside the activations (features.kinds): a {kind} level of their own
KINDS = config["features"]["kinds"][1:]
KIND_RUN = "results/{dataset}/{model}/ctx{context}/{kind}"
SUMMARY = "results/{dataset}/ctx{context}"
# what depends on the attribution method (gxi, ig) lives one level down
METHODS = config["attribution"]["methods"]
ATTR = "results/{dataset}/{model}/ctx{context}/{method}"
ASUMMARY = "results/{dataset}/ctx{context}/{method}"
# what does not depend on the model: a subject's noise ceilings
CEILING = "results/{dataset}/noise_ceiling/{subject}.h5"


report: "workflow/report/workflow.rst"


wildcard_constraints:
    dataset=r"[A-Za-z0-9_\-]+",
    model=r"[A-Za-z0-9_.\-]+",
    context=r"\d+",
    layer=r"\d+",
    subject=r"[A-Za-z0-9_\-]+",
    method=r"gxi|ig",


include: "workflow/rules/common.smk"
include: "workflow/rules/dataset.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/encoding.smk"
include: "workflow/rules/attribution.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/paper.smk"


rule all:
    """Every table, figure and the report inputs of the configured run."""
    default_target: True
    input:
        all_outputs(),
