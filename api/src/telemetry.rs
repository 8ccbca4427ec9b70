//! Logging and tracing: one subscriber for the whole process, text or JSON lines, and, in
//! builds with the `otel` feature, spans exported to an OpenTelemetry collector.
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;

/// Log levels when `RUST_LOG` is not set: our own at info, the database driver's only warnings.
const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn";

/// Flushes exported spans when dropped (at the end of `main`).
pub struct Telemetry {
    #[cfg(feature = "otel")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        #[cfg(feature = "otel")]
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

pub fn init(format: LogFormat, log_spans: bool, otel_endpoint: Option<&str>) -> Telemetry {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    // Colours only on a terminal: files and pipes get plain text.
    // Step lines only in text: the JSON formatter lists the spans entered on the thread at the
    // time of a span's close rather than the span's own parents (tokio-rs/tracing#2531), so
    // they would not name their request.
    let step_lines = log_spans && format == LogFormat::Text;
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_span_events(if step_lines {
            FmtSpan::CLOSE
        } else {
            FmtSpan::NONE
        });
    let fmt = match format {
        LogFormat::Text => fmt.boxed(),
        LogFormat::Json => fmt.json().flatten_event(true).boxed(),
    };
    let registry = tracing_subscriber::registry().with(filter).with(fmt);

    #[cfg(feature = "otel")]
    {
        let provider = otel_endpoint.and_then(|endpoint| match otel::provider(endpoint) {
            Ok(provider) => Some(provider),
            Err(error) => {
                eprintln!("OpenTelemetry export disabled: {error}");
                None
            }
        });
        let layer = provider.as_ref().map(|p| {
            use opentelemetry::trace::TracerProvider;
            tracing_opentelemetry::layer().with_tracer(p.tracer("stroom-api"))
        });
        // `try_init`: a second initialisation (tests) keeps the first subscriber.
        let _ = registry.with(layer).try_init();
        warn_unused_step_lines(log_spans && !step_lines);
        Telemetry { provider }
    }
    #[cfg(not(feature = "otel"))]
    {
        let _ = registry.try_init();
        warn_unused_step_lines(log_spans && !step_lines);
        if otel_endpoint.is_some() {
            tracing::warn!(
                "OTEL_EXPORTER_OTLP_ENDPOINT is set, but this build has no OpenTelemetry export: \
                 build with `--features otel`"
            );
        }
        Telemetry {}
    }
}

fn warn_unused_step_lines(unused: bool) {
    if unused {
        tracing::warn!("--log-spans writes step lines in text logs only; JSON logs go without");
    }
}

#[cfg(feature = "otel")]
mod otel {
    use opentelemetry_otlp::{Protocol, WithExportConfig};
    use opentelemetry_sdk::trace::SdkTracerProvider;

    pub fn provider(endpoint: &str) -> anyhow::Result<SdkTracerProvider> {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
            .build()?;
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name("stroom-api")
            .build();
        Ok(SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build())
    }
}
