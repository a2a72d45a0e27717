//! `just narration`: per demo, the share of its code lines spent on narration (see
//! book_check::narration for what counts), so a change can see whether a demo's loop
//! got easier or harder to read.

fn main() {
    let root = book_check::workspace_root();
    println!("{:18} {:>10} {:>10} {:>7}", "demo", "code lines", "narration", "share");
    for d in demo_list::all() {
        match book_check::narration::count_crate(&root.join(d.folder)) {
            Ok(s) => {
                println!("{:18} {:>10} {:>10} {:>6.1}%", d.name, s.code_lines, s.narration_lines, s.percent())
            }
            Err(e) => println!("{:18} error: read {}/src: {e}", d.name, d.folder),
        }
    }
}
