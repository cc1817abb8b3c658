# Builds the two leadrelay binaries: worker and starter (the API and operator commands).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/worker ./worker && \
    CGO_ENABLED=0 go build -trimpath -o /out/starter ./starter

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/worker /out/starter /app/
ENTRYPOINT ["/app/starter"]
CMD ["serve"]
