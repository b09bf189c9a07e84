# Builds the ledger into a small image. Used by docker-compose.yml.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/ledger ./cmd/ledger

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ledger /usr/local/bin/ledger
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/ledger"]
CMD ["serve", "--http", "0.0.0.0:8080", "--data", "/data"]
