# Build: a release binary of the `stroom` command. The dependencies are built first, in a
# layer of their own from the manifests alone, so a change to the code rebuilds only the
# workspace's crates.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
ENV CARGO_PROFILE_RELEASE_DEBUG=false \
    CARGO_PROFILE_RELEASE_STRIP=symbols
COPY Cargo.toml Cargo.lock ./
COPY api/Cargo.toml api/Cargo.toml
COPY derive/Cargo.toml derive/Cargo.toml
COPY entity/Cargo.toml entity/Cargo.toml
COPY migration/Cargo.toml migration/Cargo.toml
COPY seed/Cargo.toml seed/Cargo.toml
COPY bench/Cargo.toml bench/Cargo.toml
RUN mkdir -p src api/src derive/src entity/src migration/src seed/src bench/src \
    && echo 'fn main() {}' > src/main.rs \
    && echo 'fn main() {}' > bench/src/main.rs \
    && touch api/src/lib.rs derive/src/lib.rs entity/src/lib.rs migration/src/lib.rs seed/src/lib.rs \
    && cargo build --release --locked --bin stroom \
    && rm -rf src api/src derive/src entity/src migration/src seed/src bench/src
COPY . .
# The placeholders' artefacts are older than the real sources: touch them so they rebuild.
RUN touch src/main.rs api/src/lib.rs derive/src/lib.rs entity/src/lib.rs migration/src/lib.rs seed/src/lib.rs \
    && cargo build --release --locked --bin stroom

# Run: the stripped binary alone on distroless (glibc, CA certificates, no shell), as an
# unprivileged user. The embedded SQLite default lives in the working directory.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/stroom /usr/local/bin/stroom
WORKDIR /home/nonroot
ENV STROOM_LISTEN=0.0.0.0:8080 \
    STROOM_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/stroom", "ready", "--url", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["/usr/local/bin/stroom"]
CMD ["serve"]
