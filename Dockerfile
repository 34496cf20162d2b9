# The router: LiteLLM proxy + router_plugins, on :8001. In production the models are served by vLLM
# (see docker-compose.yml), so neither the `local` (llama.cpp) nor the `test` extra is installed.
FROM python:3.11-slim

# LITELLM_LOCAL_MODEL_COST_MAP: without it every import of litellm tries to download the model cost
# map and waits for a timeout. LITELLM_NON_ROOT: LiteLLM keeps the admin UI and its assets in
# /var/lib/litellm instead of writing into site-packages.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    LITELLM_NON_ROOT=true

# openssl: Prisma (the admin UI's database layer) picks its engine build by the system's OpenSSL version.
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssl \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --home-dir /home/router --uid 10001 --user-group router

# The CPU build first, from its own index: a bare `torch` from PyPI is a multi-GB CUDA build.
# The encoder is a small sentence-transformers model; it needs no GPU. pyproject's `torch==2.13.0`
# is then satisfied by this 2.13.0+cpu (a local version label does not break an `==` match).
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

WORKDIR /app
# README.md* (a glob) because the file is optional for the build: pyproject names it as the long
# description, and setuptools only warns when it is missing; a plain COPY of a missing file fails.
COPY pyproject.toml README.md* litellm_config.yaml /app/
COPY router_plugins/ /app/router_plugins/
# Training data the YAML names besides router_plugins/data/examples (the held-out splits stay out).
COPY eval/queries_dev.jsonl eval/conversations_dev*.jsonl /app/eval/

# prisma: with DATABASE_URL set (the admin UI's PostgreSQL), LiteLLM refuses to start without the
# Prisma CLI. Pinned within litellm's own range (its `extra_proxy` extra, which would also pull cloud
# SDKs the router does not use, asks for prisma>=0.11,<1).
RUN pip install /app prisma==0.15.0 \
 && rm -rf /app/build /app/*.egg-info

# Prisma writes its generated client into its own package and LiteLLM writes migration bookkeeping
# into litellm_proxy_extras, so the runtime user owns both; /var/lib/litellm holds the admin UI.
RUN SITE="$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
 && chown -R router:router "$SITE/prisma" "$SITE/litellm_proxy_extras" \
 && install -d -o router -g router /var/lib/litellm/ui /var/lib/litellm/assets

USER router

# Prisma downloads Node, its CLI and its engines on first use: do it now, while the build has network,
# so a container starts without reaching the internet. `migrate diff` only warms the schema engine that
# LiteLLM's startup migrations use, best effort as in LiteLLM's own image (it would be fetched on first
# start otherwise).
RUN SCHEMA="$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/litellm/proxy/schema.prisma" \
 && prisma generate --schema "$SCHEMA" \
 && { prisma migrate diff --from-empty --to-schema-datamodel "$SCHEMA" --script > /dev/null || true; }

EXPOSE 8001

# python:3.11-slim has no curl. Startup (config, encoder warm-up, migrations) takes 10-60 s.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8001/health/liveliness', timeout=4)"]

CMD ["litellm", "--config", "/app/litellm_config.yaml", "--host", "0.0.0.0", "--port", "8001", "--num_workers", "2"]
