//! Generates the message catalog of the examples crate into docs/: MESSAGES.md,
//! asyncapi.json and schemas/<wire name>.schema.json, from the payload types and handlers
//! under src/.
//!
//! The generated files are committed, so the catalog can be read without building. Writing
//! them from a build script is safe because the builder writes a file only when its content
//! changed: a build leaves the tree clean unless a message changed. The script reruns when a
//! file under src/ changes. When the `CI` environment variable is set, it only checks the
//! files and leaves them alone, so that tests/docs.rs reports stale committed files.
//!
//! tests/docs.rs loads this file as a module to build the same catalog into a temporary
//! directory, so `catalog` contains the whole configuration.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CI");
    let check_only = std::env::var_os("CI").is_some();
    if let Err(error) = catalog(Path::new("docs")).check_only(check_only).generate() {
        eprintln!("error: failed to generate the message catalog in examples/docs: {error}");
        std::process::exit(1);
    }
}

/// Returns the builder of the examples crate's message catalog, which writes into
/// `docs_dir`.
///
/// The subjects are those of the cluster demo: publishers there use a destination prefix,
/// so each message goes to `<prefix>.<wire name>`, with the prefixes of
/// `cluster::Subjects`.
pub(crate) fn catalog(docs_dir: &Path) -> ncl_schema::Builder {
    ncl_schema::Builder::new()
        .source_dir("src")
        .title("ncl examples: message catalog")
        .description(
            "The messages of the cluster demo (`cargo run -p examples --example cluster`): an \
             orchestrator asks compute nodes for bids and assigns jobs to them, and the nodes \
             acknowledge each assignment, report each job's status and send heartbeats. \
             `JobAssigned` is sent with a reply subject, and the node's subscriber replies \
             with plain JSON, not an envelope: `{}` once it took the job, or \
             `{\"error\":\"...\",\"delay\":<nanoseconds>}` when it did not.",
        )
        .channel("cluster.{run_id}.node.{node_id}.BidRequest", ["BidRequest"])
        .channel(
            "cluster.{run_id}.node.{node_id}.JobAssigned",
            ["JobAssigned"],
        )
        .channel("cluster.{run_id}.orchestrator.JobStatus", ["JobStatus"])
        .channel("cluster.{run_id}.orchestrator.Heartbeat", ["Heartbeat"])
        .parameter(
            "run_id",
            "Identifier of one cluster run, 8 hexadecimal digits by default, so that runs \
             sharing a server use different subjects.",
        )
        .parameter(
            "node_id",
            "Identifier of the compute node asked for a bid or assigned the job, `node-1` to \
             `node-<n>`.",
        )
        .markdown(docs_dir.join("MESSAGES.md"))
        .json_schema(docs_dir.join("schemas"))
        .asyncapi(docs_dir.join("asyncapi.json"))
}
