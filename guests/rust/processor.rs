// world: storage-processor
//! rust-processor: the processor world in Rust, through kits/rust (logging, storage, process), plus
//! wasi:filesystem through the preview1 adapter. The text commands are in commands.rs.
#[path = "../../kits/rust/airssys.rs"]
mod airssys;
mod commands;

fn process(input: Vec<u8>) -> Result<Vec<u8>, String> {
    commands::run(&String::from_utf8_lossy(&input)).map(String::into_bytes)
}

airssys::processor!(process);
