//! The catalog builder on small crates written to temporary directories: module paths,
//! handlers, errors with their locations, warnings, and the files it writes.

mod support;

use std::fs;

use ncl_schema::GenerateError;
use ncl_schema::catalog::{HandlerKind, TypeBody, TypeRef};

use support::{Sources, read_json, references, resolve};

const MESSAGES: &str = r#"
use serde::{Deserialize, Serialize};

/// A job assignment.
#[derive(Serialize, Deserialize, ncl::NclPayload)]
pub struct JobAssigned {
    pub job_id: String,
    pub state: super::state::JobState,
}

#[derive(Serialize, Deserialize, NclPayload)]
#[ncl(name = "Heartbeat/v2")]
pub struct Heartbeat {
    pub node_id: String,
}

#[derive(Serialize, Deserialize, ncl::NclPayload)]
pub struct Unrouted;
"#;

const STATE: &str = r#"
/// Lifecycle state.
#[derive(Serialize, Deserialize)]
pub enum JobState { Accepted, Done }
"#;

#[test]
fn module_paths_follow_file_layout() {
    let sources = Sources::new(&[
        (
            "lib.rs",
            "pub mod cluster;\npub mod inline { #[derive(NclPayload)] pub struct InInline; }",
        ),
        ("cluster/mod.rs", "pub mod messages;\npub mod state;"),
        ("cluster/messages.rs", MESSAGES),
        ("cluster/state.rs", STATE),
    ]);
    let catalog = sources.scan();

    let paths: Vec<(&str, &str)> = catalog
        .messages
        .iter()
        .map(|message| (message.wire_name.as_str(), message.rust_path.as_str()))
        .collect();
    assert_eq!(
        paths,
        [
            ("Heartbeat/v2", "crate::cluster::messages::Heartbeat"),
            ("InInline", "crate::inline::InInline"),
            ("JobAssigned", "crate::cluster::messages::JobAssigned"),
            ("Unrouted", "crate::cluster::messages::Unrouted"),
        ]
    );

    let state = &catalog.types["JobState"];
    assert_eq!(state.rust_path, "crate::cluster::state::JobState");
    assert_eq!(state.docs.as_deref(), Some("Lifecycle state."));
    assert!(
        state.source.ends_with("src/cluster/state.rs"),
        "{}",
        state.source
    );

    let message = catalog.message("JobAssigned").expect("payload exists");
    assert!(message.source.ends_with("src/cluster/messages.rs"));
    assert_eq!(message.encoding, "json");
    assert_eq!(message.docs.as_deref(), Some("A job assignment."));
}

#[test]
fn nested_types_are_followed_through_imports() {
    let sources = Sources::new(&[
        (
            "lib.rs",
            "mod model; mod shared; pub use shared::Region as Zone;\n\
             #[derive(NclPayload)] pub struct Root { zone: Zone, limits: model::Limits }",
        ),
        (
            "model.rs",
            "use crate::shared::*;\n\
             pub struct Limits { pub cpu: Cpu, pub alias: Alias }\n\
             pub type Alias = Vec<Cpu>;",
        ),
        (
            "shared.rs",
            "pub struct Cpu(pub u16);\npub enum Region { East, West }",
        ),
    ]);
    let catalog = sources.scan();
    let keys: Vec<&str> = catalog.types.keys().map(String::as_str).collect();
    assert_eq!(keys, ["Cpu", "Limits", "Region", "Root"]);
    let TypeBody::Struct(limits) = &catalog.types["Limits"].body else {
        panic!("Limits is a struct");
    };
    assert_eq!(limits.fields[0].ty, TypeRef::Named("Cpu".to_owned()));
    assert_eq!(
        limits.fields[1].ty,
        TypeRef::Seq {
            item: Box::new(TypeRef::Named("Cpu".to_owned())),
            unique: false
        }
    );
}

#[test]
fn same_identifier_in_two_modules_gets_qualified_keys() {
    let sources = Sources::new(&[
        (
            "lib.rs",
            "mod a; mod b;\n#[derive(NclPayload)] struct Both { a: a::Status, b: b::Status }",
        ),
        ("a.rs", "pub enum Status { Up }"),
        ("b.rs", "pub enum Status { Down }"),
    ]);
    let catalog = sources.scan();
    assert!(catalog.types.contains_key("a.Status"));
    assert!(catalog.types.contains_key("b.Status"));
}

#[test]
fn cfg_test_modules_are_left_out() {
    let sources = Sources::new(&[
        (
            "lib.rs",
            "#[cfg(test)] mod tests;\n\
             #[cfg(test)] mod inline { #[derive(NclPayload)] struct InlineTest; }\n\
             #[cfg(test)] #[derive(NclPayload)] struct ItemTest;\n\
             #[derive(NclPayload)] struct Kept;",
        ),
        ("tests.rs", "#[derive(NclPayload)] struct FileTest;"),
    ]);
    let catalog = sources.scan();
    let names: Vec<&str> = catalog
        .messages
        .iter()
        .map(|m| m.wire_name.as_str())
        .collect();
    assert_eq!(names, ["Kept"]);
}

#[test]
fn handlers_of_both_forms_are_found() {
    let sources = Sources::new(&[
        ("lib.rs", "pub mod cluster;\nmod node;\nmod other;"),
        ("cluster/mod.rs", "pub mod messages;\npub mod state;"),
        ("cluster/messages.rs", MESSAGES),
        ("cluster/state.rs", STATE),
        (
            "node.rs",
            r#"
use ncl::{Message, handler};
use crate::cluster::messages::{Heartbeat, JobAssigned};

#[ncl::handler]
async fn on_job(message: &Message<JobAssigned>, node: &Node) {}

#[handler]
async fn on_beat(message: Message<Heartbeat>) {}

#[ncl::handler]
impl Worker {
    async fn on_job(&self, message: &Message<crate::cluster::messages::JobAssigned>) {}
    fn helper(&self) {}
}
"#,
        ),
        (
            "other.rs",
            "use crate::cluster::messages::JobAssigned;\n\
             #[handler] async fn not_ncl(message: &Message<JobAssigned>) {}",
        ),
    ]);
    let catalog = sources.scan();
    let handlers: Vec<(&str, &str, &HandlerKind, bool)> = catalog
        .handlers
        .iter()
        .map(|handler| {
            (
                handler.path.as_str(),
                handler.payload.as_str(),
                &handler.kind,
                handler.by_ref,
            )
        })
        .collect();
    let worker = HandlerKind::Method {
        self_ty: "Worker".to_owned(),
    };
    let node_state = HandlerKind::Function {
        state: Some("Node".to_owned()),
    };
    let stateless = HandlerKind::Function { state: None };
    assert_eq!(
        handlers,
        [
            ("crate::node::Worker::on_job", "JobAssigned", &worker, true),
            ("crate::node::on_beat", "Heartbeat/v2", &stateless, false),
            ("crate::node::on_job", "JobAssigned", &node_state, true),
        ]
    );
}

#[test]
fn syntax_error_names_file_and_line() {
    let sources = Sources::new(&[
        ("lib.rs", "mod broken;\nmod other;"),
        (
            "broken.rs",
            "pub struct Fine;\n\npub struct Broken {\n    field: u8\n    other: u8,\n}\n",
        ),
        ("other.rs", "fn f( {}"),
    ]);
    let errors = sources.source_errors();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors[0].path.ends_with("src/broken.rs"), "{}", errors[0]);
    assert_eq!(errors[0].line, 5);
    assert!(errors[1].path.ends_with("src/other.rs"), "{}", errors[1]);
    assert_eq!(errors[1].line, 1);
    let text = errors[0].to_string();
    assert!(text.contains("src/broken.rs:5:"), "{text}");
}

#[test]
fn unresolvable_paths_are_errors() {
    let sources = Sources::new(&[
        ("lib.rs", "mod messages;\nmod handlers;"),
        (
            "messages.rs",
            "#[derive(NclPayload)]\npub struct Job {\n    pub spec: crate::missing::Spec,\n    pub other: super::messages::Gone,\n}",
        ),
        (
            "handlers.rs",
            "#[ncl::handler]\nasync fn on_job(message: &Message<crate::messages::Nothing>) {}",
        ),
    ]);
    let errors = sources.source_errors();
    let described: Vec<(String, usize, &str)> = errors
        .iter()
        .map(|error| {
            let file = error
                .path
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            (file, error.line, error.message.as_str())
        })
        .collect();
    assert_eq!(
        described,
        [
            (
                "handlers.rs".to_owned(),
                2,
                "cannot resolve payload type `crate::messages::Nothing` of handler \
                 `crate::handlers::on_job`: no item `Nothing` in module `crate::messages`"
            ),
            (
                "messages.rs".to_owned(),
                3,
                "cannot resolve type `crate::missing::Spec`: no item `missing` in module `crate`"
            ),
            (
                "messages.rs".to_owned(),
                4,
                "cannot resolve type `super::messages::Gone`: no item `Gone` in module \
                 `crate::messages`"
            ),
        ]
    );
}

#[test]
fn macro_mistakes_have_the_macro_messages() {
    let sources = Sources::new(&[(
        "lib.rs",
        "#[derive(NclPayload)]\n#[ncl(nmae = \"Job\")]\nstruct Job;\n\n\
         #[ncl::handler]\nfn not_async(message: &Message<Job>) {}\n\n\
         #[derive(NclPayload)] struct A;\n#[derive(NclPayload)] #[ncl(name = \"A\")] struct B;",
    )]);
    let errors = sources.source_errors();
    let messages: Vec<(usize, &str)> = errors
        .iter()
        .map(|error| (error.line, error.message.as_str()))
        .collect();
    assert_eq!(messages.len(), 3, "{errors:#?}");
    assert_eq!(
        messages[0],
        (
            2,
            "unknown #[ncl] key `nmae`; valid keys are `name`, `crate`"
        )
    );
    assert_eq!(messages[1].0, 6);
    assert!(
        messages[1]
            .1
            .starts_with("handler `not_async` must be an `async fn`")
    );
    assert_eq!(messages[2].0, 9);
    assert!(
        messages[2]
            .1
            .starts_with("wire name `A` is already used by `crate::A` in "),
        "{}",
        messages[2].1
    );
}

#[test]
fn foreign_types_warn_once_and_stay_opaque() {
    let sources = Sources::new(&[(
        "lib.rs",
        "use uuid::Uuid;\n\
         #[derive(NclPayload)] struct A { id: Uuid, again: Uuid, when: chrono::DateTime<chrono::Utc> }\n\
         #[derive(NclPayload)] struct B { id: Option<Uuid>, #[serde(with = \"hex\")] raw: Vec<u8> }",
    )]);
    let generated = sources
        .full_builder()
        .generate()
        .unwrap_or_else(|error| panic!("generation should succeed: {error}"));
    assert_eq!(generated.warnings.len(), 3, "{:#?}", generated.warnings);
    assert!(
        generated.warnings[0].contains("lib.rs:2:"),
        "{}",
        generated.warnings[0]
    );
    assert!(generated.warnings[0].contains("type `uuid::Uuid` is not described"));
    assert!(generated.warnings[1].contains("type `chrono::DateTime` is not described"));
    assert!(generated.warnings[2].contains("field `raw` uses `with`"));

    let schema = read_json(&sources.docs().join("schemas/A.schema.json"));
    assert_eq!(schema["properties"]["id"]["$ref"], "#/$defs/uuid.Uuid");
    let opaque = &schema["$defs"]["uuid.Uuid"];
    assert!(
        opaque["description"].as_str().is_some_and(
            |text| text.starts_with("`uuid::Uuid`: a type the scanner did not describe")
        ),
        "{opaque}"
    );
    let markdown = fs::read_to_string(sources.docs().join("MESSAGES.md")).expect("markdown");
    assert!(
        markdown.contains("| `id` | `uuid::Uuid` (opaque) | required |"),
        "{markdown}"
    );
}

#[test]
fn outputs_are_written_only_when_changed() {
    let sources = Sources::new(&[
        ("lib.rs", "pub mod cluster;"),
        ("cluster/mod.rs", "pub mod messages;\npub mod state;"),
        ("cluster/messages.rs", MESSAGES),
        ("cluster/state.rs", STATE),
    ]);
    let builder = sources
        .full_builder()
        .channel("jobs.{node}.JobAssigned", ["JobAssigned"]);
    let first = builder.generate().expect("first generation");
    assert_eq!(first.written.len(), 5, "{:#?}", first.written);
    assert!(first.unchanged.is_empty());

    let markdown = sources.docs().join("MESSAGES.md");
    let written_at = fs::metadata(&markdown)
        .and_then(|meta| meta.modified())
        .expect("mtime");
    let second = builder.generate().expect("second generation");
    assert!(second.written.is_empty(), "{:#?}", second.written);
    assert_eq!(second.unchanged.len(), 5);
    let unchanged_at = fs::metadata(&markdown)
        .and_then(|meta| meta.modified())
        .expect("mtime");
    assert_eq!(written_at, unchanged_at);

    fs::write(
        sources.src().join("cluster/state.rs"),
        STATE.replace("Done }", "Done, Failed }"),
    )
    .expect("edit source");
    let third = builder.generate().expect("third generation");
    let mut written: Vec<String> = third
        .written
        .iter()
        .map(|path| {
            path.file_name()
                .expect("file")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    written.sort();
    assert_eq!(
        written,
        ["JobAssigned.schema.json", "MESSAGES.md", "asyncapi.json"]
    );

    assert!(first.read.contains(&sources.src()));
    for file in [
        "lib.rs",
        "cluster/mod.rs",
        "cluster/messages.rs",
        "cluster/state.rs",
    ] {
        assert!(
            first.read.contains(&sources.src().join(file)),
            "{file} not listed"
        );
    }
    assert!(first.read.contains(&sources.src().join("cluster")));
}

#[test]
fn stale_schemas_are_removed_or_reported() {
    let sources = Sources::new(&[("lib.rs", "#[derive(NclPayload)] struct Kept;")]);
    let schemas = sources.docs().join("schemas");
    fs::create_dir_all(&schemas).expect("schema directory");
    fs::write(schemas.join("Gone.schema.json"), "{}").expect("stale schema");
    fs::write(schemas.join("notes.txt"), "kept").expect("other file");

    let checked = sources
        .full_builder()
        .check_only(true)
        .generate()
        .expect("check");
    assert_eq!(checked.stale.len(), 4, "{:#?}", checked.stale);
    assert!(checked.written.is_empty());
    assert!(schemas.join("Gone.schema.json").exists());
    assert!(!sources.docs().join("MESSAGES.md").exists());

    let generated = sources.full_builder().generate().expect("generation");
    assert_eq!(generated.removed, [schemas.join("Gone.schema.json")]);
    assert!(!schemas.join("Gone.schema.json").exists());
    assert!(schemas.join("notes.txt").exists());
    assert!(schemas.join("Kept.schema.json").exists());

    let rechecked = sources
        .full_builder()
        .check_only(true)
        .generate()
        .expect("check");
    assert!(rechecked.stale.is_empty(), "{:#?}", rechecked.stale);
}

#[test]
fn channels_must_name_scanned_messages() {
    let sources = Sources::new(&[("lib.rs", "#[derive(NclPayload)] struct Job;")]);
    let error = sources
        .full_builder()
        .channel("jobs.{node}", ["Jbo"])
        .generate()
        .expect_err("unknown message");
    assert_eq!(
        error.to_string(),
        "invalid catalog configuration: channel \"jobs.{node}\" names the message `Jbo`, \
         which no #[derive(NclPayload)] type in the source directory has as its wire name; \
         the scanned payloads are `Job`"
    );
    let error = sources
        .full_builder()
        .channel("jobs..x", ["Job"])
        .generate()
        .expect_err("invalid address");
    assert!(matches!(error, GenerateError::Config(_)), "{error}");
    let error = sources.builder().generate().expect_err("no outputs");
    assert!(matches!(error, GenerateError::Config(_)), "{error}");
}

#[test]
fn documents_are_sorted_and_reference_every_payload() {
    let sources = Sources::new(&[
        ("lib.rs", "pub mod cluster;\nmod handlers;"),
        ("cluster/mod.rs", "pub mod messages;\npub mod state;"),
        ("cluster/messages.rs", MESSAGES),
        ("cluster/state.rs", STATE),
        (
            "handlers.rs",
            "use crate::cluster::messages::JobAssigned;\n\
             #[ncl::handler] async fn on_job(message: &Message<JobAssigned>) {}",
        ),
    ]);
    sources
        .full_builder()
        .channel("jobs.{node}.JobAssigned", ["JobAssigned"])
        .channel("beats.Heartbeat", ["Heartbeat/v2"])
        .channel("beats.Heartbeat", ["JobAssigned"])
        .parameter("node", "Node identifier.")
        .generate()
        .expect("generation");

    let markdown = fs::read_to_string(sources.docs().join("MESSAGES.md")).expect("markdown");
    let positions: Vec<usize> = [
        "### Message `Heartbeat/v2`",
        "### Message `JobAssigned`",
        "### Message `Unrouted`",
        "### Type `JobState`",
    ]
    .iter()
    .map(|heading| {
        markdown
            .find(heading)
            .unwrap_or_else(|| panic!("{heading} missing"))
    })
    .collect();
    assert!(positions.is_sorted(), "{positions:?}");
    assert!(markdown.contains("- Subjects: not declared"));
    assert!(markdown.contains("- Subjects: `beats.Heartbeat` and `jobs.{node}.JobAssigned`"));
    assert!(markdown.contains("- Handlers: `crate::handlers::on_job` (function)"));
    assert!(
        markdown.contains("[`schemas/Heartbeat_v2.schema.json`](schemas/Heartbeat_v2.schema.json)")
    );
    assert!(
        sources
            .docs()
            .join("schemas/Heartbeat_v2.schema.json")
            .exists()
    );

    let asyncapi = read_json(&sources.docs().join("asyncapi.json"));
    assert_eq!(asyncapi["asyncapi"], "3.0.0");
    assert_eq!(asyncapi["info"]["version"], "1.0.0");
    let messages = asyncapi["components"]["messages"]
        .as_object()
        .expect("messages");
    let names: Vec<&str> = messages
        .values()
        .map(|message| message["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["Heartbeat/v2", "JobAssigned", "Unrouted"]);
    for message in messages.values() {
        let payload = message["payload"]["$ref"]
            .as_str()
            .expect("payload reference");
        assert!(
            resolve(&asyncapi, payload).is_some(),
            "{payload} does not resolve"
        );
        assert_eq!(message["contentType"], "application/json");
    }
    assert!(
        messages["Unrouted"]["description"]
            .as_str()
            .is_some_and(|text| text.ends_with("Subject: not declared."))
    );
    let channels: Vec<&String> = asyncapi["channels"]
        .as_object()
        .expect("channels")
        .keys()
        .collect();
    assert_eq!(channels, ["beats_Heartbeat", "jobs_node_JobAssigned"]);
    assert_eq!(
        asyncapi["channels"]["jobs_node_JobAssigned"]["parameters"]["node"]["description"],
        "Node identifier."
    );
    let operations = asyncapi["operations"].as_object().expect("operations");
    let mut keys: Vec<&String> = operations.keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "receive_handlers_on_job_beats_Heartbeat",
            "receive_handlers_on_job_jobs_node_JobAssigned",
            "send_beats_Heartbeat",
            "send_jobs_node_JobAssigned",
        ]
    );
    let text = fs::read_to_string(sources.docs().join("asyncapi.json")).expect("asyncapi");
    let send = text
        .find("\"send_beats_Heartbeat\"")
        .expect("send operation");
    let receive = text
        .find("\"receive_handlers_on_job_beats_Heartbeat\"")
        .expect("receive");
    assert!(send < receive, "send operations come first");

    let mut all = Vec::new();
    references(&asyncapi, &mut all);
    for reference in &all {
        assert!(
            resolve(&asyncapi, reference).is_some(),
            "{reference} does not resolve"
        );
    }
    for file in ["Heartbeat_v2", "JobAssigned", "Unrouted"] {
        let schema = read_json(&sources.docs().join(format!("schemas/{file}.schema.json")));
        let mut all = Vec::new();
        references(&schema, &mut all);
        for reference in &all {
            assert!(resolve(&schema, reference).is_some(), "{file}: {reference}");
        }
    }
}
