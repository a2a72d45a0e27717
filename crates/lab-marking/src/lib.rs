//! What the lab checkers (`labs/*/check`) stand on: [`marking`] runs the checks and
//! prints the report (PASS/FAIL with reasons, the score, `--json`), [`child`] runs a
//! submission under a deadline whatever it does, and [`lab_server`] starts a student's
//! server and finds its port. The content the curl labs fetch is `offline::lab_web`,
//! served by `offline::http`, whose own record of every request is how a checker judges
//! concurrency. [`echo`] holds the echo-server labs' client and shared checks.
//! [`grading`] marks a whole class (`just grade LAB SUBMISSIONS`).

pub mod child;
pub mod echo;
pub mod grading;
pub mod lab_server;
pub mod marking;
