// world: storage-actor
//! rust-actor: the actor world in Rust, through kits/rust (logging, messaging, storage, handler), plus
//! wasi:filesystem through the preview1 adapter. A payload is a command of commands.rs, or one of
//!   send TARGET TEXT | request TARGET TEXT | publish TOPIC TEXT | subscribe TOPIC
//! answered with some(result). A message that arrives on a topic is logged ("TOPIC: TEXT"), no reply.
#[path = "../../kits/rust/airssys.rs"]
mod airssys;
mod commands;

use airssys::{messaging, Message};

fn handle(message: Message) -> Result<Option<Vec<u8>>, String> {
    let command = String::from_utf8_lossy(&message.payload).into_owned();
    if let Some(topic) = message.topic {
        airssys::log(airssys::Level::Info, &format!("{}: {}", topic, command));
        return Ok(None);
    }
    let (op, rest) = command.split_once(' ').unwrap_or((&command, ""));
    let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
    let reply = match op {
        "send" => messaging::send(name, text.as_bytes()).map(|_| b"done".to_vec()),
        "request" => messaging::request(name, text.as_bytes(), 1000),
        "publish" => messaging::publish(name, text.as_bytes()).map(|_| b"done".to_vec()),
        "subscribe" => messaging::subscribe(name).map(|_| b"done".to_vec()),
        _ => commands::run(&command).map(String::into_bytes),
    };
    reply.map(Some)
}

airssys::actor!(handle);
