//! The committed message catalog in `examples/docs` matches the sources, and its JSON
//! Schemas accept the cluster demo's real payloads and reject wrong ones.

#[path = "../build.rs"]
#[allow(
    dead_code,
    reason = "the build script's `main` is not called from the test"
)]
mod build_script;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use examples::cluster::messages::{Heartbeat, JobAssigned, JobState, JobStatus};
use ncl::Payload;
use serde::Serialize;
use serde_json::{Value, json};

/// The command that rewrites the committed catalog.
const REGENERATE: &str = "cargo build -p examples";

fn docs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs")
}

/// Returns every file under `dir`, by path relative to it, with its text.
fn read_tree(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = fs::read_dir(&current)
            .unwrap_or_else(|error| panic!("failed to read {}: {error}", current.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let relative = path
                .strip_prefix(dir)
                .expect("entries are inside the directory")
                .to_string_lossy()
                .replace('\\', "/");
            let text = fs::read_to_string(&path)
                .unwrap_or_else(|error| panic!("failed to read {}: {error}", path.display()));
            files.insert(relative, text);
        }
    }
    files
}

#[test]
fn committed_catalog_is_current() {
    let fresh_dir = tempfile::tempdir().expect("temporary directory");
    build_script::catalog(fresh_dir.path())
        .cargo_instructions(false)
        .generate()
        .unwrap_or_else(|error| panic!("failed to regenerate the catalog: {error}"));
    let fresh = read_tree(fresh_dir.path());
    let committed = read_tree(&docs_dir());

    let mut problems = Vec::new();
    for (path, text) in &fresh {
        match committed.get(path) {
            None => problems.push(format!("docs/{path} is missing")),
            Some(current) if current != text => {
                problems.push(format!("docs/{path} is out of date"))
            }
            Some(_) => {}
        }
    }
    for path in committed.keys().filter(|path| !fresh.contains_key(*path)) {
        problems.push(format!("docs/{path} is no longer generated"));
    }
    assert!(
        problems.is_empty(),
        "the committed message catalog differs from the sources:\n  {}\nregenerate it with \
         `{REGENERATE}` and commit examples/docs",
        problems.join("\n  ")
    );
}

fn schema(wire_name: &str) -> Value {
    let path = docs_dir()
        .join("schemas")
        .join(format!("{wire_name}.schema.json"));
    let text = fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("failed to read {}: {error}", path.display()));
    serde_json::from_str(&text).expect("schemas are JSON")
}

fn validator<P: Payload>() -> jsonschema::Validator {
    let schema = schema(P::NAME);
    jsonschema::draft202012::new(&schema)
        .unwrap_or_else(|error| panic!("the schema of {} should compile: {error}", P::NAME))
}

/// Asserts that the committed schema of `P` accepts serde's JSON for `payload`.
fn assert_accepts<P: Payload + Serialize>(payload: &P) {
    let instance = serde_json::to_value(payload).expect("payloads serialize");
    let validator = validator::<P>();
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|error| error.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "{} rejects {instance}: {errors:?}",
        P::NAME
    );
}

/// Asserts that the committed schema of `P` rejects `instance`.
fn assert_rejects<P: Payload>(instance: Value) {
    assert!(
        !validator::<P>().is_valid(&instance),
        "{} accepts the wrong value {instance}",
        P::NAME
    );
}

fn job() -> JobAssigned {
    JobAssigned {
        job_id: "job-0007".to_owned(),
        node_id: "node-2".to_owned(),
        command: "echo hello".to_owned(),
        simulated_exit_code: -1,
        attempt: 2,
    }
}

#[test]
fn job_assigned_matches_its_schema() {
    assert_accepts(&job());
    let valid = serde_json::to_value(job()).expect("payloads serialize");
    let cases = [
        ("attempt", json!("two")),
        ("attempt", json!(-1)),
        ("attempt", json!(4_294_967_296_u64)),
        ("simulated_exit_code", json!(2_147_483_648_u64)),
        ("job_id", json!(7)),
        ("command", Value::Null),
    ];
    for (property, wrong) in cases {
        let mut instance = valid.clone();
        instance[property] = wrong;
        assert_rejects::<JobAssigned>(instance);
    }
    let mut missing = valid;
    missing
        .as_object_mut()
        .expect("an object")
        .remove("node_id");
    assert_rejects::<JobAssigned>(missing);
}

#[test]
fn job_status_matches_its_schema() {
    for state in [
        JobState::Accepted,
        JobState::Running,
        JobState::Completed,
        JobState::Failed,
    ] {
        let status = JobStatus {
            job_id: "job-0007".to_owned(),
            node_id: "node-2".to_owned(),
            attempt: 1,
            state,
            exit_code: None,
            error: None,
        };
        assert_accepts(&status);
        let finished = JobStatus {
            exit_code: Some(3),
            error: Some("command exited with code 3".to_owned()),
            ..status
        };
        assert_accepts(&finished);
    }
    let valid = json!({"job_id": "j", "node_id": "n", "attempt": 1, "state": "Running"});
    let cases = [
        ("state", json!("Paused")),
        ("state", json!("running")),
        ("exit_code", json!("3")),
        ("error", json!(["no"])),
    ];
    for (property, wrong) in cases {
        let mut instance = valid.clone();
        instance[property] = wrong;
        assert_rejects::<JobStatus>(instance);
    }
}

#[test]
fn heartbeat_matches_its_schema() {
    let heartbeat = Heartbeat {
        node_id: "node-1".to_owned(),
        sequence: u64::MAX,
        running_jobs: vec!["job-0001".to_owned(), "job-0002".to_owned()],
    };
    assert_accepts(&heartbeat);
    assert_accepts(&Heartbeat {
        running_jobs: Vec::new(),
        ..heartbeat
    });
    assert_rejects::<Heartbeat>(json!({"node_id": "n", "sequence": -1, "running_jobs": []}));
    assert_rejects::<Heartbeat>(json!({"node_id": "n", "sequence": 1, "running_jobs": [1]}));
    assert_rejects::<Heartbeat>(json!({"node_id": "n", "sequence": 1}));
}

#[test]
fn asyncapi_references_every_payload() {
    let path = docs_dir().join("asyncapi.json");
    let text = fs::read_to_string(&path).expect("asyncapi.json exists");
    let document: Value = serde_json::from_str(&text).expect("asyncapi.json is JSON");
    assert_eq!(document["asyncapi"], "3.0.0");
    for name in [JobAssigned::NAME, JobStatus::NAME, Heartbeat::NAME] {
        let message = &document["components"]["messages"][name];
        assert_eq!(message["name"], name, "components.messages.{name}");
        let payload = message["payload"]["$ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has no payload reference"));
        let pointer = payload.strip_prefix('#').expect("a local reference");
        assert!(
            document.pointer(pointer).is_some(),
            "{name}'s payload {payload} does not resolve"
        );
        let channels = document["channels"].as_object().expect("channels");
        assert!(
            channels
                .values()
                .any(|channel| channel["messages"][name].is_object()),
            "no channel carries {name}"
        );
    }
    // A reply channel's address is null: each request carries its own reply subject.
    let addresses: Vec<&str> = document["channels"]
        .as_object()
        .expect("channels")
        .values()
        .filter_map(|channel| channel["address"].as_str())
        .collect();
    for address in [
        "cluster.{run_id}.node.{node_id}.JobAssigned",
        "cluster.{run_id}.orchestrator.JobStatus",
        "cluster.{run_id}.orchestrator.Heartbeat",
    ] {
        assert!(
            addresses.contains(&address),
            "{address} missing: {addresses:?}"
        );
    }
}
