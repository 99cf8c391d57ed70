//! JSONL sources and shards: round trips, and errors that name file and line.

use std::fs;

use echolab::data::jsonl::{self, FieldMapping};
use echolab::data::{
    read_shard, write_shard, Format, Level, Split, Statistics, SyntheticSource, Tokenizer,
};

#[test]
fn shards_round_trip_and_statistics_count_each_source() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("shard.jsonl");
    let mut documents = Vec::new();
    for format in Format::ALL {
        let mut source = SyntheticSource::new(4, Some(format), 50);
        source.name = format!("synthetic_{format}");
        source.noise = 0.2;
        documents.extend(source.generate().unwrap());
    }
    write_shard(&path, &documents).unwrap();
    assert_eq!(read_shard(&path).unwrap(), documents);

    let texts: Vec<String> = documents.iter().map(|document| document.text()).collect();
    let tokenizer = Tokenizer::train(Level::Word, &texts);
    let mut statistics = Statistics::measure(&documents, &tokenizer);
    statistics.add_unconvertible("synthetic_code", 3);
    assert_eq!(statistics.sources.len(), 3);
    let code = &statistics.sources["synthetic_code"];
    assert_eq!(code.documents, 50);
    assert_eq!(code.per_format["code"], 50);
    assert_eq!(code.unconvertible, 3);
    let noisy = documents
        .iter()
        .filter(|document| document.source == "synthetic_code" && document.noisy)
        .count();
    assert_eq!(code.noisy, noisy);
    let longest = documents
        .iter()
        .filter(|document| document.source == "synthetic_code")
        .map(|document| tokenizer.encode_document(&document.text()).len())
        .max()
        .unwrap();
    assert_eq!(code.max_tokens, longest);
    assert!(code.mean_tokens > 10.0 && code.mean_tokens <= longest as f64);
}

#[test]
fn a_malformed_shard_line_is_reported_with_file_and_line() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("broken.jsonl");
    let good = SyntheticSource::new(1, None, 1).generate().unwrap();
    let line = serde_json::to_string(&good[0]).unwrap();
    fs::write(&path, format!("{line}\n{line}\n{{\"source\": 1}}\n")).unwrap();
    let message = read_shard(&path).unwrap_err().to_string();
    assert!(
        message.contains("broken.jsonl") && message.contains("line 3"),
        "{message}"
    );
}

#[test]
fn jsonl_sources_map_fields_and_name_the_line_of_an_error() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("mine.jsonl");
    fs::write(
        &path,
        "{\"q\": \"What is 2+2?\", \"a\": 4, \"s\": \"2 + 2 = 4\\nThus, the answer is \\\\boxed{4}.\"}\n\n{\"q\": \"And 1,000 + 1?\", \"a\": \"so #### 1,001\", \"s\": \"x\"}\n",
    )
    .unwrap();
    let mut mapping = FieldMapping::new("q", "a");
    mapping.solution = Some("s".to_string());
    mapping.format = Some(Format::Prose);
    mapping.split = Split::Test;
    let documents = jsonl::load(&path, &mapping).unwrap();
    assert_eq!(documents.len(), 2);
    assert_eq!(documents[0].source, "mine");
    assert_eq!(documents[0].answer, "4");
    assert_eq!(documents[1].answer, "1001");
    assert_eq!(documents[0].format, Some(Format::Prose));
    assert!(documents[0].text().starts_with("What is 2+2?\n\n2 + 2 = 4"));

    fs::write(
        &path,
        "{\"q\": \"x\", \"a\": 1, \"s\": \"y\"}\n{\"q\": \"x\", \"s\": \"y\"}\n",
    )
    .unwrap();
    let message = jsonl::load(&path, &mapping).unwrap_err().to_string();
    assert!(
        message.contains("mine.jsonl") && message.contains("line 2") && message.contains("`a`"),
        "{message}"
    );

    fs::write(&path, "{\"q\": \"x\", \"a\": 1, \"s\": \"y\"}\nnot json\n").unwrap();
    let message = jsonl::load(&path, &mapping).unwrap_err().to_string();
    assert!(
        message.contains("line 2") && message.contains("invalid json"),
        "{message}"
    );

    fs::write(&path, "{\"q\": \"x\", \"a\": \"none\", \"s\": \"y\"}\n").unwrap();
    let message = jsonl::load(&path, &mapping).unwrap_err().to_string();
    assert!(
        message.contains("line 1") && message.contains("no numeric answer"),
        "{message}"
    );
}
