//! The chat room shared by the select, pselect and poll demos (filled in by the chat demos' work).
