//! Is this file a complete shared library for this machine? Answered from its bytes with
//! an ELF parser, before the dynamic linker maps it: glibc maps segments past the end of
//! a truncated file, and the first touch of one is a SIGBUS no Rust code can catch.

use object::elf;
use object::read::elf::{Dyn as _, FileHeader, ProgramHeader as _};
use object::{Object, ObjectSegment, ObjectSymbol};

use crate::ffi::METADATA_SYMBOL;
use crate::host::HANDSHAKE_SYMBOL;

/// What the dynamic symbol table says about a valid library.
#[derive(Debug, Default)]
pub(crate) struct Exports<'data> {
    pub handshake: bool,
    /// The metadata record's bytes, when the library exports one.
    pub metadata_record: Option<&'data [u8]>,
}

#[cfg(target_pointer_width = "64")]
type Header = elf::FileHeader64<object::Endianness>;
#[cfg(target_pointer_width = "32")]
type Header = elf::FileHeader32<object::Endianness>;
#[cfg(target_pointer_width = "64")]
type ElfFile<'data> = object::read::elf::ElfFile64<'data>;
#[cfg(target_pointer_width = "32")]
type ElfFile<'data> = object::read::elf::ElfFile32<'data>;

/// The machine this host was built for.
fn host_machine() -> Option<u16> {
    if cfg!(target_arch = "x86_64") {
        Some(elf::EM_X86_64.0)
    } else if cfg!(target_arch = "aarch64") {
        Some(elf::EM_AARCH64.0)
    } else if cfg!(target_arch = "riscv64") {
        Some(elf::EM_RISCV.0)
    } else if cfg!(target_arch = "x86") {
        Some(elf::EM_386.0)
    } else {
        None
    }
}

/// Checks `bytes` as a whole shared object for this machine; the error is a few words
/// (`truncated: 8192 of 1982880 bytes`).
pub(crate) fn validate(bytes: &[u8]) -> Result<Exports<'_>, String> {
    if bytes.is_empty() {
        return Err("empty file".to_owned());
    }
    if !bytes.starts_with(&elf::ELFMAG) {
        return Err("not an ELF file".to_owned());
    }
    // e_ident[EI_CLASS]
    let class = bytes.get(4).copied().map(elf::FileClass);
    let expected_class = if cfg!(target_pointer_width = "64") {
        elf::ELFCLASS64
    } else {
        elf::ELFCLASS32
    };
    if class != Some(expected_class) {
        return Err(format!(
            "an ELF file of the other word size ({}-bit), this host is {}-bit",
            if class == Some(elf::ELFCLASS64) {
                64
            } else {
                32
            },
            usize::BITS
        ));
    }
    let header = Header::parse(bytes).map_err(|_| truncated_or(bytes, "ELF header"))?;
    let endian = header
        .endian()
        .map_err(|_| "an ELF file with an unknown byte order".to_owned())?;
    if header.is_little_endian() != cfg!(target_endian = "little") {
        return Err("an ELF file of the other byte order".to_owned());
    }
    let machine = header.e_machine(endian).0;
    if Some(machine) != host_machine() {
        return Err(format!(
            "built for another machine ({}), this host is {}",
            machine_name(machine),
            std::env::consts::ARCH
        ));
    }
    match header.e_type(endian) {
        elf::ET_DYN => {}
        elf::ET_EXEC => return Err("an executable, not a shared library".to_owned()),
        elf::ET_REL => return Err("an object file (.o), not a shared library".to_owned()),
        elf::ET_CORE => return Err("a core dump, not a shared library".to_owned()),
        other => return Err(format!("not a shared library (ELF type {})", other.0)),
    }
    let needed = extent(header, endian, bytes)?;
    if needed > bytes.len() as u64 {
        return Err(format!("truncated: {} of {needed} bytes", bytes.len()));
    }
    let file = ElfFile::parse(bytes).map_err(|error| format!("a damaged ELF file: {error}"))?;
    let mut dynamic_found = false;
    for segment in header.program_headers(endian, bytes).unwrap_or_default() {
        let Ok(Some(entries)) = segment.dynamic(endian, bytes) else {
            continue;
        };
        dynamic_found = true;
        let pie = entries.iter().any(|entry| {
            entry.d_tag(endian) == elf::DT_FLAGS_1 && entry.d_val(endian) & elf::DF_1_PIE.0 != 0
        });
        if pie {
            return Err("an executable (PIE), not a shared library".to_owned());
        }
    }
    if !dynamic_found {
        return Err("no dynamic section: not a shared library".to_owned());
    }
    Ok(exports(&file))
}

/// How many bytes the headers say the file has: every loadable segment, the dynamic
/// segment and the section header table must lie inside it.
fn extent(header: &Header, endian: object::Endianness, bytes: &[u8]) -> Result<u64, String> {
    let phoff: u64 = header.e_phoff(endian);
    let phsize = u64::from(header.e_phnum(endian)) * u64::from(header.e_phentsize(endian));
    let mut needed = phoff.saturating_add(phsize);
    if needed > bytes.len() as u64 {
        return Ok(needed);
    }
    let segments = header
        .program_headers(endian, bytes)
        .map_err(|_| truncated_or(bytes, "program headers"))?;
    for segment in segments {
        let kind = segment.p_type(endian);
        if kind == elf::PT_LOAD || kind == elf::PT_DYNAMIC {
            let offset: u64 = segment.p_offset(endian);
            let size: u64 = segment.p_filesz(endian);
            needed = needed.max(offset.saturating_add(size));
        }
    }
    let shoff: u64 = header.e_shoff(endian);
    let shsize = u64::from(header.e_shnum(endian)) * u64::from(header.e_shentsize(endian));
    Ok(needed.max(shoff.saturating_add(shsize)))
}

fn truncated_or(bytes: &[u8], what: &str) -> String {
    format!(
        "a damaged ELF file: its {what} do not fit in its {} bytes",
        bytes.len()
    )
}

fn exports<'data>(file: &ElfFile<'data>) -> Exports<'data> {
    let mut exports = Exports::default();
    for symbol in file.dynamic_symbols() {
        if symbol.is_undefined() {
            continue;
        }
        match symbol.name() {
            Ok(name) if name == HANDSHAKE_SYMBOL => exports.handshake = true,
            Ok(name) if name == METADATA_SYMBOL => {
                exports.metadata_record = file.segments().find_map(|segment| {
                    segment
                        .data_range(symbol.address(), symbol.size())
                        .ok()
                        .flatten()
                });
            }
            _ => {}
        }
    }
    exports
}

fn machine_name(machine: u16) -> String {
    match object::elf::Machine(machine) {
        elf::EM_X86_64 => "x86_64".to_owned(),
        elf::EM_AARCH64 => "aarch64".to_owned(),
        elf::EM_386 => "x86".to_owned(),
        elf::EM_ARM => "arm".to_owned(),
        elf::EM_RISCV => "riscv".to_owned(),
        elf::EM_PPC64 => "ppc64".to_owned(),
        elf::EM_S390 => "s390".to_owned(),
        other => format!("ELF machine {}", other.0),
    }
}
