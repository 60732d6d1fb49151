//! airssys.rs: write an airssys-wasm guest in Rust, with the standard library only.
//!
//! Copy this file next to your crate root, declare it there as `mod airssys;` (the macros expect that
//! path), implement one function and name it with `airssys::processor!(f)` or `airssys::actor!(f)`.
//! The host's interfaces are plain functions: `airssys::log`, `airssys::messaging::*`,
//! `airssys::storage::*`. Files, clocks, stdout and `std::process::exit` are ordinary `std`, reached
//! through the WASI preview1 adapter.
//!
//! Build (Debian: apt-get install -y rustc libstd-rust-dev-wasm32 lld):
//!   rustc --edition 2021 --target wasm32-wasi --crate-type cdylib -O plugin.rs -o plugin.core.wasm
//! then make a component for the world with jco (see docs/how-to/write-a-guest-in-rust.md).
//!
//! The kit speaks the component model's canonical ABI for wit/airssys.wit by hand: strings and lists
//! are (pointer, length) pairs, results with a payload come back through a return area (discriminant
//! byte at 0, payload from offset 4), and the host allocates what it hands us with `cabi_realloc`.
#![allow(dead_code)]

use std::alloc::{self, Layout};

/// Levels of the logging interface.
#[derive(Clone, Copy)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// A message delivered to an actor (the WIT record `types.message`).
pub struct Message {
    pub sender: String,
    pub topic: Option<String>,
    pub correlation_id: Option<u64>,
    pub payload: Vec<u8>,
}

mod abi {
    #[link(wasm_import_module = "airssys:component/logging@0.1.0")]
    extern "C" {
        pub fn log(level: i32, ptr: *const u8, len: usize);
    }
    #[link(wasm_import_module = "airssys:component/messaging@0.1.0")]
    extern "C" {
        pub fn send(t: *const u8, tl: usize, p: *const u8, pl: usize, ret: *mut u8);
        pub fn request(t: *const u8, tl: usize, p: *const u8, pl: usize, timeout: u32, ret: *mut u8);
        pub fn publish(t: *const u8, tl: usize, p: *const u8, pl: usize, ret: *mut u8);
        pub fn subscribe(t: *const u8, tl: usize, ret: *mut u8);
    }
    #[link(wasm_import_module = "airssys:component/storage@0.1.0")]
    extern "C" {
        pub fn get(n: *const u8, nl: usize, k: *const u8, kl: usize, ret: *mut u8);
        pub fn set(n: *const u8, nl: usize, k: *const u8, kl: usize, v: *const u8, vl: usize, ret: *mut u8);
        pub fn delete(n: *const u8, nl: usize, k: *const u8, kl: usize, ret: *mut u8);
        #[link_name = "list-keys"]
        pub fn list_keys(n: *const u8, nl: usize, ret: *mut u8);
    }
}

/// The host allocates arguments and results in our memory through this.
#[no_mangle]
pub unsafe extern "C" fn cabi_realloc(old: *mut u8, old_size: usize, align: usize, size: usize) -> *mut u8 {
    if size == 0 {
        return align as *mut u8; // an empty list: any aligned, non-null pointer
    }
    let ptr = if old_size == 0 {
        alloc::alloc(Layout::from_size_align_unchecked(size, align))
    } else {
        alloc::realloc(old, Layout::from_size_align_unchecked(old_size, align), size)
    };
    if ptr.is_null() {
        alloc::handle_alloc_error(Layout::from_size_align_unchecked(size, align));
    }
    ptr
}

/// A return area: results are at most 16 bytes, 4-byte aligned.
#[repr(C, align(8))]
pub struct Area(pub [u8; 16]);

impl Area {
    fn new() -> Area {
        Area([0; 16])
    }
    fn u32_at(&self, offset: usize) -> usize {
        u32::from_le_bytes(self.0[offset..offset + 4].try_into().unwrap()) as usize
    }
    /// The (pointer, length) pair at `offset`, taken over: the host allocated it with align 1.
    unsafe fn bytes_at(&self, offset: usize) -> Vec<u8> {
        let len = self.u32_at(offset + 4);
        if len == 0 {
            return Vec::new();
        }
        Vec::from_raw_parts(self.u32_at(offset) as *mut u8, len, len)
    }
    unsafe fn string_at(&self, offset: usize) -> String {
        String::from_utf8_unchecked(self.bytes_at(offset))
    }
    /// `result<_, string>`
    unsafe fn unit_result(&self) -> Result<(), String> {
        if self.0[0] == 0 { Ok(()) } else { Err(self.string_at(4)) }
    }
    fn put(&mut self, offset: usize, bytes: Vec<u8>) {
        // Boxed so the capacity is the length: post-return gives it back with the same layout.
        let boxed = bytes.into_boxed_slice();
        let len = boxed.len() as u32;
        let ptr = Box::into_raw(boxed) as *mut u8 as usize as u32;
        self.0[offset..offset + 4].copy_from_slice(&ptr.to_le_bytes());
        self.0[offset + 4..offset + 8].copy_from_slice(&len.to_le_bytes());
    }
    unsafe fn free(&self, offset: usize) {
        let (ptr, len) = (self.u32_at(offset) as *mut u8, self.u32_at(offset + 4));
        drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)));
    }
}

pub fn log(level: Level, message: &str) {
    unsafe { abi::log(level as i32, message.as_ptr(), message.len()) }
}

pub mod messaging {
    use super::{abi, Area};

    /// Fire and forget.
    pub fn send(target: &str, payload: &[u8]) -> Result<(), String> {
        let mut ret = Area::new();
        unsafe {
            abi::send(target.as_ptr(), target.len(), payload.as_ptr(), payload.len(), ret.0.as_mut_ptr());
            ret.unit_result()
        }
    }

    /// Send and wait for the reply, or fail after `timeout_ms`.
    pub fn request(target: &str, payload: &[u8], timeout_ms: u32) -> Result<Vec<u8>, String> {
        let mut ret = Area::new();
        unsafe {
            abi::request(target.as_ptr(), target.len(), payload.as_ptr(), payload.len(), timeout_ms, ret.0.as_mut_ptr());
            if ret.0[0] == 0 { Ok(ret.bytes_at(4)) } else { Err(ret.string_at(4)) }
        }
    }

    pub fn publish(topic: &str, payload: &[u8]) -> Result<(), String> {
        let mut ret = Area::new();
        unsafe {
            abi::publish(topic.as_ptr(), topic.len(), payload.as_ptr(), payload.len(), ret.0.as_mut_ptr());
            ret.unit_result()
        }
    }

    /// Topic messages then arrive through the actor's handler.
    pub fn subscribe(topic: &str) -> Result<(), String> {
        let mut ret = Area::new();
        unsafe {
            abi::subscribe(topic.as_ptr(), topic.len(), ret.0.as_mut_ptr());
            ret.unit_result()
        }
    }
}

pub mod storage {
    use super::{abi, Area};

    pub fn get(namespace: &str, key: &str) -> Result<Option<Vec<u8>>, String> {
        let mut ret = Area::new();
        unsafe {
            abi::get(namespace.as_ptr(), namespace.len(), key.as_ptr(), key.len(), ret.0.as_mut_ptr());
            match (ret.0[0], ret.0[4]) {
                (0, 0) => Ok(None),
                (0, _) => Ok(Some(ret.bytes_at(8))), // ok(some(list)): the option's tag at 4, the list at 8
                _ => Err(ret.string_at(4)),
            }
        }
    }

    pub fn set(namespace: &str, key: &str, value: &[u8]) -> Result<(), String> {
        let mut ret = Area::new();
        unsafe {
            abi::set(namespace.as_ptr(), namespace.len(), key.as_ptr(), key.len(), value.as_ptr(), value.len(), ret.0.as_mut_ptr());
            ret.unit_result()
        }
    }

    pub fn delete(namespace: &str, key: &str) -> Result<(), String> {
        let mut ret = Area::new();
        unsafe {
            abi::delete(namespace.as_ptr(), namespace.len(), key.as_ptr(), key.len(), ret.0.as_mut_ptr());
            ret.unit_result()
        }
    }

    pub fn list_keys(namespace: &str) -> Result<Vec<String>, String> {
        let mut ret = Area::new();
        unsafe {
            abi::list_keys(namespace.as_ptr(), namespace.len(), ret.0.as_mut_ptr());
            if ret.0[0] != 0 {
                return Err(ret.string_at(4));
            }
            // A list of (pointer, length) pairs, each pair a string.
            let (ptr, count) = (ret.u32_at(4) as *mut [u32; 2], ret.u32_at(8));
            if count == 0 {
                return Ok(Vec::new());
            }
            let pairs = Vec::from_raw_parts(ptr, count, count);
            Ok(pairs.iter().map(|&[p, l]| if l == 0 { String::new() } else { String::from_raw_parts(p as *mut u8, l as usize, l as usize) }).collect())
        }
    }
}

/// One return area per export: a component instance runs one call at a time.
static mut EXPORT_AREA: Area = Area([0; 16]);

unsafe fn take(ptr: *mut u8, len: usize) -> Vec<u8> {
    if len == 0 { Vec::new() } else { Vec::from_raw_parts(ptr, len, len) }
}

unsafe fn take_string(ptr: *mut u8, len: usize) -> String {
    String::from_utf8_unchecked(take(ptr, len))
}

#[doc(hidden)]
pub unsafe fn __process(f: fn(Vec<u8>) -> Result<Vec<u8>, String>, ptr: *mut u8, len: usize) -> *mut u8 {
    let result = f(take(ptr, len));
    let area = &mut EXPORT_AREA;
    area.0 = [0; 16];
    match result {
        Ok(output) => area.put(4, output),
        Err(message) => {
            area.0[0] = 1;
            area.put(4, message.into_bytes())
        }
    }
    area.0.as_mut_ptr()
}

#[doc(hidden)]
pub unsafe fn __post_process(area: *mut u8) {
    (*(area as *const Area)).free(4)
}

#[doc(hidden)]
pub unsafe fn __handle(
    f: fn(Message) -> Result<Option<Vec<u8>>, String>,
    sender: *mut u8, sender_len: usize, has_topic: i32, topic: *mut u8, topic_len: usize,
    has_id: i32, id: i64, payload: *mut u8, payload_len: usize,
) -> *mut u8 {
    let message = Message {
        sender: take_string(sender, sender_len),
        topic: if has_topic != 0 { Some(take_string(topic, topic_len)) } else { None },
        correlation_id: if has_id != 0 { Some(id as u64) } else { None },
        payload: take(payload, payload_len),
    };
    let result = f(message);
    let area = &mut EXPORT_AREA;
    area.0 = [0; 16];
    match result {
        Ok(None) => {}
        Ok(Some(reply)) => {
            area.0[4] = 1;
            area.put(8, reply)
        }
        Err(message) => {
            area.0[0] = 1;
            area.put(4, message.into_bytes())
        }
    }
    area.0.as_mut_ptr()
}

#[doc(hidden)]
pub unsafe fn __post_handle(area: *mut u8) {
    let area = &*(area as *const Area);
    if area.0[0] != 0 {
        area.free(4)
    } else if area.0[4] != 0 {
        area.free(8)
    }
}

/// Exports `process` (worlds processor, storage-processor, ...): `fn(Vec<u8>) -> Result<Vec<u8>, String>`.
#[macro_export]
macro_rules! processor {
    ($f:path) => {
        #[export_name = "process"]
        pub unsafe extern "C" fn __airssys_process(ptr: *mut u8, len: usize) -> *mut u8 {
            $crate::airssys::__process($f, ptr, len)
        }
        #[export_name = "cabi_post_process"]
        pub unsafe extern "C" fn __airssys_post_process(area: *mut u8) {
            $crate::airssys::__post_process(area)
        }
    };
}

/// Exports `handler.handle-message` (worlds actor, storage-actor, ...):
/// `fn(Message) -> Result<Option<Vec<u8>>, String>`, `Some(reply)` answering a request.
#[macro_export]
macro_rules! actor {
    ($f:path) => {
        #[export_name = "airssys:component/handler@0.1.0#handle-message"]
        pub unsafe extern "C" fn __airssys_handle(
            s: *mut u8, sl: usize, ht: i32, t: *mut u8, tl: usize, hi: i32, i: i64, p: *mut u8, pl: usize,
        ) -> *mut u8 {
            $crate::airssys::__handle($f, s, sl, ht, t, tl, hi, i, p, pl)
        }
        #[export_name = "cabi_post_airssys:component/handler@0.1.0#handle-message"]
        pub unsafe extern "C" fn __airssys_post_handle(area: *mut u8) {
            $crate::airssys::__post_handle(area)
        }
    };
}

pub use crate::{actor, processor};
