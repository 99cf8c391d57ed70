//! The tokenizer: exact round trips on generated documents and on arbitrary
//! strings, digits one per token, and a JSON artifact that reloads.

use echolab::data::{Format, Level, SyntheticSource, Tokenizer};
use proptest::prelude::*;

/// One vocabulary shared by the property cases (training it per case is slow).
static TRAINED: std::sync::OnceLock<Tokenizer> = std::sync::OnceLock::new();

fn texts(seed: u64) -> Vec<String> {
    let mut all = Vec::new();
    for format in Format::ALL {
        let mut source = SyntheticSource::new(seed, Some(format), 100);
        source.difficulty = 1..=6;
        source.noise = 0.2;
        all.extend(
            source
                .generate()
                .unwrap()
                .iter()
                .map(|document| document.text()),
        );
    }
    all
}

#[test]
fn word_level_is_compact_and_spells_digits_one_by_one() {
    let training = texts(1);
    let tokenizer = Tokenizer::train(Level::Word, &training);
    let characters = Tokenizer::train(Level::Character, &training);
    assert!(tokenizer.vocab_size() > characters.vocab_size());
    let text = "Liam has 125 marbles.";
    let ids = tokenizer.encode(text);
    let pieces: Vec<String> = ids.iter().map(|id| tokenizer.token_text(*id)).collect();
    assert_eq!(
        pieces,
        vec!["Liam", " has", " 1", "2", "5", " marbles", "."]
    );
    let word_total: usize = training
        .iter()
        .map(|text| tokenizer.encode(text).len())
        .sum();
    let character_total: usize = training
        .iter()
        .map(|text| characters.encode(text).len())
        .sum();
    assert!(
        character_total > 2 * word_total,
        "{character_total} vs {word_total}"
    );
    let document = tokenizer.encode_document(text);
    assert_eq!(document.last(), Some(&tokenizer.eos_id()));
    assert_eq!(tokenizer.decode(&document), text);
    assert_ne!(tokenizer.eos_id(), tokenizer.pad_id());
}

#[test]
fn training_is_deterministic_and_the_json_artifact_reloads() {
    for level in [Level::Word, Level::Character] {
        let tokenizer = Tokenizer::train(level, &texts(2));
        assert_eq!(Tokenizer::train(level, &texts(2)), tokenizer);
        let json = tokenizer.to_json();
        let reloaded = Tokenizer::from_json(&json).unwrap();
        assert_eq!(reloaded, tokenizer);
        assert_eq!(reloaded.to_json(), json);
    }
    let error =
        Tokenizer::from_json("{\"version\": 9, \"level\": \"word\", \"pieces\": []}").unwrap_err();
    assert!(error.to_string().contains("version 9"));
    let error =
        Tokenizer::from_json("{\"version\": 1, \"level\": \"word\", \"pieces\": [\"a\", \"a\"]}")
            .unwrap_err();
    assert!(error.to_string().contains("`a`"));
}

#[test]
fn every_generated_document_round_trips_under_another_seeds_vocabulary() {
    let word = Tokenizer::train(Level::Word, &texts(3));
    let character = Tokenizer::train(Level::Character, &texts(3));
    for text in texts(4) {
        assert_eq!(word.decode(&word.encode(&text)), text);
        assert_eq!(character.decode(&character.encode(&text)), text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_strings_round_trip(text in any::<String>(), seed in 0u64..4) {
        let training = vec![format!("Liam has 12 marbles.\n    x = 3 {seed}")];
        for level in [Level::Word, Level::Character] {
            let tokenizer = Tokenizer::train(level, &training);
            let ids = tokenizer.encode(&text);
            prop_assert!(ids.iter().all(|id| (*id as usize) < tokenizer.vocab_size()));
            prop_assert_eq!(tokenizer.decode(&ids), text.clone());
        }
    }

    #[test]
    fn generated_documents_round_trip(seed in 0u64..1_000, index in 0u64..1_000) {
        let mut source = SyntheticSource::new(seed, Some(Format::ALL[(index % 3) as usize]), 1);
        source.difficulty = 1..=6;
        source.noise = 0.5;
        let text = source.document(index).map(|document| document.text()).unwrap_or_default();
        let tokenizer = TRAINED.get_or_init(|| Tokenizer::train(Level::Word, &texts(5)));
        prop_assert_eq!(tokenizer.decode(&tokenizer.encode(&text)), text);
    }
}
