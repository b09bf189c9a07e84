# Builds the ledger into a small image. Used by docker-compose.yml.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/ledger ./cmd/ledger
# The data directory and its keys/ subdirectory, made here because the final
# image has no shell. A new named volume starts as a copy of the image's
# directory at its mount point, owner and mode included: without these, the
# volumes at /data and /data/keys are root's and the ledger, which runs as
# nonroot (65532), cannot write them ("mkdir /data/keys: permission denied").
RUN mkdir -p /out/data/keys && chmod 750 /out/data && chmod 700 /out/data/keys

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ledger /usr/local/bin/ledger
COPY --from=build --chown=65532:65532 /out/data /data
# distroless's nonroot user; the --chown above must name the same uid.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/ledger"]
CMD ["serve", "--http", "0.0.0.0:8080", "--data", "/data"]
