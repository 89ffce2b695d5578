# The image a Kubeflow TFJob from `trainyard export tfjob` runs: Trainyard's role executables
# (trainyard-chief, trainyard-worker, trainyard-ps) on the Swift runtime, plus the trainyard CLI and
# the scale-tier catalog. Docs/beyond-one-machine.md walks from a local run to a TFJob.
#
#   docker build -t REGISTRY/trainyard:TAG .
#   docker push REGISTRY/trainyard:TAG
#
# Build stage: the Swift toolchain image, a release build of each product. Runtime stage: the slim
# image of the same Swift version and distribution (the Swift runtime libraries without the compiler).
ARG SWIFT_VERSION=6.3
ARG DISTRIBUTION=noble

FROM swift:${SWIFT_VERSION}-${DISTRIBUTION} AS build
WORKDIR /src
# The manifest names every target, the test targets included, so the whole checkout is copied
# (.dockerignore leaves out .build and job folders).
COPY . .
RUN for product in trainyard-chief trainyard-worker trainyard-ps trainyard; do \
        swift build -c release --product "$product" || exit 1; \
    done \
 && mkdir -p /out/bin \
 && for product in trainyard-chief trainyard-worker trainyard-ps trainyard; do \
        cp "$(swift build -c release --show-bin-path)/$product" /out/bin/; \
    done

FROM swift:${SWIFT_VERSION}-${DISTRIBUTION}-slim
COPY --from=build /out/bin/ /usr/local/bin/
COPY ScaleTiers /opt/trainyard/ScaleTiers
ENV TRAINYARD_TIERS=/opt/trainyard/ScaleTiers
# A user without privileges; the TFJob's pod securityContext (fsGroup 1000) lets it write the
# job-dir volume and read the token Secret.
RUN groupadd --gid 1000 trainyard 2>/dev/null || true \
 && useradd --uid 1000 --gid 1000 --no-create-home --shell /usr/sbin/nologin trainyard 2>/dev/null || true \
 && mkdir -p /trainyard/job && chown 1000:1000 /trainyard/job
USER 1000:1000
WORKDIR /trainyard/job
# The TFJob's port (TF_CONFIG's addresses); the command is the role, set per replica by the TFJob.
EXPOSE 2222
CMD ["trainyard", "--help"]
