//! The eBPF object this binary carries, built by build.rs from ebpf/ with
//! the pinned toolchain, so a copied binary needs nothing beside it.

/// The object's bytes, aligned as aya's loader needs them.
pub static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/fencescope"));

#[cfg(test)]
mod tests {
    use crate::plan::HOOKS;

    fn object() -> aya_obj::Object {
        aya_obj::Object::parse(super::OBJECT).expect("the eBPF object parses")
    }

    /// A program that calls a BPF subprogram other than the diagnostics'
    /// cold log writers is calling the backend's byte-at-a-time
    /// `memcpy`/`memset`: a record built on the stack and copied, or zero
    /// stores merged. That copy once cost more than the rest of the program;
    /// records are written in place instead. (The writers themselves copy
    /// with `memcpy`: they run only when a count reaches a power of two.)
    #[test]
    fn programs_write_records_in_place() {
        const WRITERS: [&str; 2] = ["log_dropped", "log_failed_read"];
        let obj = object();
        let is_writer = |name: &str| WRITERS.iter().any(|w| name.contains(w));
        let text = obj
            .functions
            .values()
            .find(|f| is_writer(&f.name))
            .expect("the log writers are subprograms, not inlined")
            .section_index;
        let mut programs = 0;
        for f in obj.functions.values() {
            if obj.programs.values().all(|p| p.function_key() != (f.section_index.0, f.address)) {
                continue;
            }
            programs += 1;
            // A call across sections is relocated against `.text` with the
            // callee's place in the immediate, in instructions, less one.
            for i in f.instructions.iter().filter(|i| i.code == 0x85 && i.src_reg() == 1) {
                let at = (i64::from(i.imm) + 1) as u64 * 8;
                let callee = obj.functions.get(&(text.0, at)).map_or("?", |c| c.name.as_str());
                assert!(is_writer(callee), "{} calls {callee}, a BPF subprogram", f.name);
            }
        }
        assert!(programs >= 20, "only {programs} programs found in the object");
    }

    /// Every program the attach plan names (and the arm hook's) is in the
    /// object: a hook renamed on one side only would otherwise fail at
    /// attach time, on a kernel, as "not in the eBPF object".
    #[test]
    fn every_hook_in_the_plan_has_its_program() {
        let obj = object();
        let mut wanted: Vec<&str> = HOOKS
            .iter()
            .flat_map(|h| h.ways.iter())
            .flat_map(|w| w.progs.iter().map(|(prog, _)| *prog))
            .collect();
        wanted.push(crate::live::ARM_PROGRAM);
        for prog in wanted {
            assert!(obj.programs.contains_key(prog), "{prog} is in the plan but not in the object");
        }
    }
}
