//! The command line and the words curl-select prints: usage errors a student can read, plurals,
//! the no-TLS story told once, timeline rows that can be told apart. The checks are
//! shared with the other curl demo (test_harness::transfer_checks).

use test_harness::transfer_checks as checks;

const BIN: &str = env!("CARGO_BIN_EXE_curl-select");

#[test]
fn a_negative_number_is_a_usage_error_not_a_tip_to_make_it_a_url() {
    checks::check_negative_numbers_are_usage_errors(BIN);
}

#[test]
fn a_zero_timeout_is_refused_in_words_that_say_why() {
    checks::check_zero_timeout_is_refused(BIN);
}

#[test]
fn version_and_help_say_what_a_student_needs() {
    checks::check_version_and_help(BIN, env!("CARGO_PKG_VERSION"));
}

#[test]
fn one_transfer_is_one_transfer() {
    checks::check_one_transfer_is_singular(BIN);
}

#[test]
fn the_no_tls_story_is_told_once() {
    checks::check_no_tls_story_is_told_once(BIN);
}

#[test]
fn the_same_url_twice_gives_two_rows_that_can_be_told_apart() {
    checks::check_same_url_twice_gives_two_rows(BIN);
}
