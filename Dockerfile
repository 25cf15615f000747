# certbus container image.
#   docker build -t certbus .
#   docker compose up            (see docker-compose.yml)
#
# Build stage: the official Swift image (Debian 12) plus the libpq and OpenSSL
# headers. Override the toolchain with --build-arg SWIFT_IMAGE=swift:6.2-bookworm.
ARG SWIFT_IMAGE=swift:6.3-bookworm
FROM ${SWIFT_IMAGE} AS build
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends libpq-dev libssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Manifest first so the layer with the sources is the only one that changes often.
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
COPY sql ./sql
# --static-swift-stdlib links the Swift runtime and Foundation in, so the
# runtime image needs only libpq and OpenSSL.
RUN swift build -c release --product certbus --static-swift-stdlib \
    && install -m 0755 "$(swift build -c release --show-bin-path)/certbus" /usr/local/bin/certbus

# Runtime stage: Debian 12 slim with the C libraries certbus links against.
FROM debian:bookworm-slim
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends libpq5 libssl3 ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/certbus --create-home --shell /usr/sbin/nologin certbus
COPY --from=build /usr/local/bin/certbus /usr/local/bin/certbus
COPY --from=build /src/sql /usr/share/certbus/sql
ENV CERTBUS_SQL_DIR=/usr/share/certbus/sql \
    CERTBUS_HOME=/var/lib/certbus
USER certbus
WORKDIR /var/lib/certbus
ENTRYPOINT ["/usr/local/bin/certbus"]
CMD ["serve"]
