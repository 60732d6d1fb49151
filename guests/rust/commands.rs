//! The text commands every language's processor and actor guest understands (guests/README.md), for
//! the Rust guests. A module of processor.rs and actor.rs; not a guest itself (no world header).
use crate::airssys;
use std::sync::atomic::{AtomicU32, Ordering};

static SPINS: AtomicU32 = AtomicU32::new(0);

pub fn run(command: &str) -> Result<String, String> {
    let (op, rest) = command.split_once(' ').unwrap_or((command, ""));
    match op {
        "echo" => Ok(rest.to_string()),
        "err" => Err(rest.to_string()),
        "trap" => panic!("trap requested"),
        "exit" => std::process::exit(rest.parse().unwrap_or(1)),
        "loop" => loop {
            SPINS.fetch_add(1, Ordering::Relaxed);
        },
        "alloc" => {
            // Touches every page, so a refused memory.grow is the only way out.
            let bytes = rest.parse::<usize>().map_err(|e| e.to_string())? << 20;
            let mut block: Vec<u8> = Vec::new();
            block.try_reserve_exact(bytes).map_err(|_| "out of memory".to_string())?;
            block.resize(bytes, 0);
            // Volatile writes: otherwise the compiler drops an allocation nobody reads.
            for at in (0..bytes).step_by(4096) {
                unsafe { std::ptr::write_volatile(block.as_mut_ptr().add(at), 1) }
            }
            Ok("allocated".into())
        }
        "log" => {
            airssys::log(airssys::Level::Info, rest);
            Ok("logged".into())
        }
        "set" => {
            let mut words = rest.splitn(3, ' ');
            let (ns, key, value) = (words.next().unwrap_or(""), words.next().unwrap_or(""), words.next().unwrap_or(""));
            airssys::storage::set(ns, key, value.as_bytes())?;
            Ok("stored".into())
        }
        "get" => {
            let (ns, key) = rest.split_once(' ').unwrap_or((rest, ""));
            let value = airssys::storage::get(ns, key)?;
            Ok(value.map(|v| String::from_utf8_lossy(&v).into_owned()).unwrap_or_else(|| "(none)".into()))
        }
        "read" => std::fs::read_to_string(rest).map_err(|e| e.to_string()),
        "write" => {
            let (path, text) = rest.split_once(' ').unwrap_or((rest, ""));
            std::fs::write(path, text).map_err(|e| e.to_string())?;
            Ok("written".into())
        }
        _ => Err("unknown command".into()),
    }
}
