# syntax=docker/dockerfile:1
# leadrelay's image: the two binaries, worker and starter (the API and the
# operator commands), and a small HTTP probe for health checks, on distroless
# static as a non-root user. docker-compose.yml builds it for the worker and
# the API; TestCompose (compose_test.go) checks this file's shape and builds
# and runs the probe below.

FROM golang:1.26.8-bookworm AS build
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
WORKDIR /src

# The runtime image has no shell, curl or wget, so health checks run this:
# GET the URL given, exit 0 on a 2xx answer within 5 s, else 1.
COPY <<EOF /probe/main.go
package main

import (
	"fmt"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: healthcheck URL")
		os.Exit(2)
	}
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		os.Exit(1)
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		fmt.Fprintln(os.Stderr, "healthcheck:", resp.Status)
		os.Exit(1)
	}
}
EOF
RUN --mount=type=cache,target=/root/.cache/go-build \
    cd /probe && go build -ldflags="-s -w" -o /out/healthcheck main.go

COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -ldflags="-s -w" -o /out/worker ./worker && \
    go build -ldflags="-s -w" -o /out/starter ./starter

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/worker /out/starter /out/healthcheck /app/
# distroless's "nonroot" user, by number so runtimes can verify it is not root
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/app/starter"]
CMD ["serve"]
