// word_count.rs: a plugin for the storage-processor world, written with kits/rust/airssys.rs (std
// only, no crates). It counts the words of its input, keeps a running total in host storage and logs
// each call.
#[path = "../../../kits/rust/airssys.rs"]
mod airssys;

use airssys::{storage, Level};

fn process(input: Vec<u8>) -> Result<Vec<u8>, String> {
    let words = String::from_utf8_lossy(&input).split_whitespace().count() as u64;
    // The running total lives in host storage, in the namespace the host granted ("word-count").
    // `?` hands the host's refusal back as our err.
    let before = match storage::get("word-count", "total")? {
        Some(bytes) => String::from_utf8_lossy(&bytes).parse().unwrap_or(0),
        None => 0,
    };
    let total = before + words;
    storage::set("word-count", "total", total.to_string().as_bytes())?;
    let answer = format!("{} words, {} in total", words, total);
    airssys::log(Level::Info, &answer);
    Ok(answer.into_bytes())
}

airssys::processor!(process);
