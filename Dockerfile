# Build: a release binary of the `stroom` command.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin stroom

# Run: the binary alone on a slim base, as an unprivileged user.
FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/stroom --create-home stroom
COPY --from=build /src/target/release/stroom /usr/local/bin/stroom
USER stroom
WORKDIR /var/lib/stroom
ENV STROOM_LISTEN=0.0.0.0:8080 \
    STROOM_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/stroom", "ready", "--url", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["/usr/local/bin/stroom"]
CMD ["serve"]
