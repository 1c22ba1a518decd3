//! Helpers shared by the `telemetry_*` test files: running a test under a debugging
//! metrics recorder and reading what it captured.

#![allow(dead_code, reason = "each test file uses a subset of the helpers")]

use std::collections::BTreeSet;
use std::future::Future;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::{CompositeKey, MetricKind};

/// Runs `test` on a current-thread runtime with `recorder` installed for this thread.
///
/// Every task of the runtime runs on this thread, so the recorder receives the metrics
/// of the publishers and subscribers the test builds, and no other test's.
pub(crate) fn run_recorded<F: Future>(
    recorder: &DebuggingRecorder,
    test: impl FnOnce() -> F,
) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build the test runtime");
    metrics::with_local_recorder(recorder, || runtime.block_on(test()))
}

/// The metrics captured up to one moment.
#[derive(Debug)]
pub(crate) struct Captured {
    entries: Vec<(CompositeKey, DebugValue)>,
}

impl Captured {
    /// Takes a snapshot. Histogram values recorded since the last snapshot are moved
    /// into this one.
    pub(crate) fn take(snapshotter: &Snapshotter) -> Self {
        let entries = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _unit, _description, value)| (key, value))
            .collect();
        Self { entries }
    }

    /// Returns the entries of kind `kind` named `name` that carry every label of `labels`.
    fn matching<'a>(
        &'a self,
        kind: MetricKind,
        name: &'a str,
        labels: &'a [(&str, &str)],
    ) -> impl Iterator<Item = &'a DebugValue> + 'a {
        self.entries.iter().filter_map(move |(key, value)| {
            let (entry_kind, key) = (key.kind(), key.key());
            let has_labels = labels.iter().all(|(label, expected)| {
                key.labels()
                    .any(|found| found.key() == *label && found.value() == *expected)
            });
            (entry_kind == kind && key.name() == name && has_labels).then_some(value)
        })
    }

    /// Returns the sum of the counters named `name` that carry `labels`.
    pub(crate) fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.matching(MetricKind::Counter, name, labels)
            .map(|value| match value {
                DebugValue::Counter(count) => *count,
                other => panic!("{name} is not a counter: {other:?}"),
            })
            .sum()
    }

    /// Returns the number of values recorded into the histograms named `name` that
    /// carry `labels`.
    pub(crate) fn histogram_count(&self, name: &str, labels: &[(&str, &str)]) -> usize {
        self.matching(MetricKind::Histogram, name, labels)
            .map(|value| match value {
                DebugValue::Histogram(values) => values.len(),
                other => panic!("{name} is not a histogram: {other:?}"),
            })
            .sum()
    }

    /// Returns the values recorded into the histograms named `name` that carry `labels`.
    pub(crate) fn histogram_values(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        self.matching(MetricKind::Histogram, name, labels)
            .flat_map(|value| match value {
                DebugValue::Histogram(values) => values.iter().map(|v| v.into_inner()),
                other => panic!("{name} is not a histogram: {other:?}"),
            })
            .collect()
    }

    /// Returns the value of the one gauge named `name` that carries `labels`.
    pub(crate) fn gauge(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let values: Vec<f64> = self
            .matching(MetricKind::Gauge, name, labels)
            .map(|value| match value {
                DebugValue::Gauge(value) => value.into_inner(),
                other => panic!("{name} is not a gauge: {other:?}"),
            })
            .collect();
        assert_eq!(values.len(), 1, "expected one gauge {name} with {labels:?}");
        values[0]
    }

    /// Returns every value the label `label` takes in metrics whose name starts with
    /// `prefix`.
    pub(crate) fn label_values(&self, prefix: &str, label: &str) -> BTreeSet<String> {
        self.entries
            .iter()
            .filter(|(key, _)| key.key().name().starts_with(prefix))
            .flat_map(|(key, _)| key.key().labels())
            .filter(|found| found.key() == label)
            .map(|found| found.value().to_owned())
            .collect()
    }

    /// Returns the number of captured entries whose name starts with `prefix`.
    pub(crate) fn count_named(&self, prefix: &str) -> usize {
        self.entries
            .iter()
            .filter(|(key, _)| key.key().name().starts_with(prefix))
            .count()
    }
}
