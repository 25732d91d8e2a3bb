"""Independent reference for the MiniLM embedder: all-MiniLM-L6-v2 in plain numpy.

Reads the same model directory as the Rust code (config.json, tokenizer.json, model.safetensors),
runs the BERT encoder, mean-pools over the attention mask and L2-normalises, then writes
minilm_reference.json next to this file. Needs only `numpy` and `tokenizers`:

    python3 minilm_reference.py "$PLANT_EMBED_MODEL_DIR"
"""

import json
import math
import struct
import sys
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

SENTENCES = [
    "help my child with fractions",
    "math tutoring for kids",
    "increase instagram followers",
]


def load_safetensors(path):
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, meta in header.items():
        if name == "__metadata__" or meta["dtype"] != "F32":
            continue
        start, end = meta["data_offsets"]
        out[name] = np.frombuffer(raw[base + start : base + end], dtype="<f4").reshape(meta["shape"])
    return out


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def embed(model_dir, text):
    cfg = json.loads((model_dir / "config.json").read_text())
    w = load_safetensors(model_dir / "model.safetensors")
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(256)
    enc = tok.encode(text)
    ids = np.array(enc.ids)
    n = len(ids)
    eps = cfg["layer_norm_eps"]
    h = cfg["num_attention_heads"]
    d = cfg["hidden_size"] // h

    x = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.position_embeddings.weight"][:n]
        + w["embeddings.token_type_embeddings.weight"][np.array(enc.type_ids)]
    ).astype(np.float64)
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."

        def lin(name, v):
            return v @ w[p + name + ".weight"].T.astype(np.float64) + w[p + name + ".bias"]

        q = lin("attention.self.query", x).reshape(n, h, d).transpose(1, 0, 2)
        k = lin("attention.self.key", x).reshape(n, h, d).transpose(1, 0, 2)
        v = lin("attention.self.value", x).reshape(n, h, d).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / math.sqrt(d)
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        a = (s @ v).transpose(1, 0, 2).reshape(n, h * d)
        x = layer_norm(
            lin("attention.output.dense", a) + x,
            w[p + "attention.output.LayerNorm.weight"],
            w[p + "attention.output.LayerNorm.bias"],
            eps,
        )
        m = gelu(lin("intermediate.dense", x))
        x = layer_norm(
            lin("output.dense", m) + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps
        )
    pooled = x.mean(0)
    return pooled / np.linalg.norm(pooled)


def main():
    model_dir = Path(sys.argv[1])
    vectors = {s: embed(model_dir, s) for s in SENTENCES}
    for a in SENTENCES:
        print(a, [round(float(vectors[a] @ vectors[b]), 4) for b in SENTENCES])
    out = [{"text": s, "embedding": [round(float(x), 6) for x in v]} for s, v in vectors.items()]
    target = Path(__file__).with_name("minilm_reference.json")
    target.write_text(json.dumps(out) + "\n")
    print("wrote", target)


if __name__ == "__main__":
    main()
