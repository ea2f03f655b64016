# alembic-sidecar image: built with the same scripts the README uses, shipped on
# debian:bookworm-slim with only the binary, its runtime libraries, python3 + pyflakes
# (UndefinedName check) and the squawk binary (SQL lint).
#
#   docker build -t alembic-sidecar:0.1.0 .                                      # the sidecar
#   docker build --target example-app -t alembic-sidecar-example-app:0.1.0 .     # sample app
#
# Stages: build (compiler, -dev packages, squawk from npm) -> example-app (the sample app the
# manifests run next to the sidecar) -> runtime (the default target, last).
# No `# syntax=` line: it makes BuildKit pull a frontend image at build time, and nothing here
# needs more than the builder's own Dockerfile support (offline builds work).
# scripts/build-image.sh builds both images (Docker, or buildah without an engine) and checks
# them from the inside.

ARG DEBIAN_RELEASE=bookworm

# Runtime shared libraries of the binary, by Debian package. The runtime stage installs
# exactly these and then fails the build if `ldd` reports a library as not found, so a new
# dependency cannot slip through unnoticed.
ARG RUNTIME_LIBRARIES="libcpprest2.10 libpqxx-6.4 libpq5 libyaml-cpp0.7 libspdlog1.10 libfmt9 libssl3"

FROM debian:${DEBIAN_RELEASE} AS build
# ARG, not ENV: build-time only, never part of an image's environment.
ARG DEBIAN_FRONTEND=noninteractive
WORKDIR /src
# Dependencies first (their layer is reused until the scripts or the npm pins change): only
# what compiling needs (`build`: compiler, -dev packages, ccache, squawk), no PostgreSQL, test
# libraries or helm/kubectl.
COPY scripts/install-deps.sh scripts/
COPY tools/package.json tools/package-lock.json tools/
RUN ./scripts/install-deps.sh build && rm -rf /var/lib/apt/lists/*
COPY CMakeLists.txt .clang-format ./
COPY cmake/ cmake/
COPY operator/ operator/
# The findings reference: the reports' rule help is compiled from it.
COPY docs/findings.md docs/
# Only the script the next step runs: another script's change must not cost a recompile.
COPY scripts/build.sh scripts/
# Tests and benchmarks are not built into the image; otherwise this is the README's build.
# The ccache directory is a cache mount: a source change recompiles only what it touches.
RUN --mount=type=cache,target=/root/.cache/ccache \
    BUILD_TYPE=Release CMAKE_ARGS="-DALEMBIC_SIDECAR_TESTS=OFF -DALEMBIC_SIDECAR_BENCH=OFF" \
      ./scripts/build.sh \
 && install -D -m 0755 build/alembic-sidecar /out/usr/local/bin/alembic-sidecar \
 && strip --strip-unneeded /out/usr/local/bin/alembic-sidecar \
 && squawk_bin="$(find .tools/node_modules/@squawk-cli -path '*/bin/squawk' -type f | head -n 1)" \
 && test -n "$squawk_bin" \
 && install -D -m 0755 "$squawk_bin" /out/usr/local/bin/squawk \
 && /out/usr/local/bin/squawk --version

# The sample app of manifests/sample-app.yaml: tests/fixtures/example_app with Debian's
# alembic 1.8.1, SQLAlchemy 1.4, SQLModel and asyncpg. The sidecar runs alembic in it through
# pods/exec. It only imports its models and waits (a stand-in for the real web server); as
# PID 1 it gets no default signal action, so it handles SIGTERM itself (a pod deletion must not
# wait out the grace period).
FROM debian:${DEBIAN_RELEASE}-slim AS example-app
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      python3 alembic python3-alembic python3-sqlmodel python3-asyncpg \
 && rm -rf /var/lib/apt/lists/*
COPY tests/fixtures/example_app/ /app/
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
USER 10001:10001
CMD ["python3", "-c", "import signal, sys, fastapi_template.models; signal.signal(signal.SIGTERM, lambda *_: sys.exit(0)); print('example app: models imported', flush=True); signal.pause()"]

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
ARG RUNTIME_LIBRARIES
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ${RUNTIME_LIBRARIES} python3 python3-pyflakes ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /
RUN if ldd /usr/local/bin/alembic-sidecar | grep 'not found'; then \
      echo "alembic-sidecar: runtime library missing; add its package to RUNTIME_LIBRARIES" >&2; \
      exit 1; \
    fi \
 && /usr/local/bin/alembic-sidecar --version \
 && /usr/local/bin/squawk --version \
 && python3 -m pyflakes --version
# Everything it writes goes to /tmp (mount an emptyDir there with readOnlyRootFilesystem).
ENV HOME=/tmp \
    ALEMBIC_SIDECAR_SQUAWK=/usr/local/bin/squawk \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /tmp
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/alembic-sidecar"]
CMD ["sidecar", "--port", "8080"]
# Last: REVISION changes with every commit, and an ARG invalidates the layer cache of every
# step after it; here that is only this metadata.
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="alembic-sidecar" \
      org.opencontainers.image.description="Creates Alembic migrations only through alembic revision --autogenerate, validates and round-trips them, and reports through a MigrationRun custom resource" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="docker.io/library/debian:bookworm-slim"
