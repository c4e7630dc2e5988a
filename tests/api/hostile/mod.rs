//! Hostile input (issue 21): each finding of the hostile-input pass, refused at the edge.

mod body;
mod cost;
mod fragments;
mod nul;
mod operations;
mod overload;
mod timeouts;
mod tokens;
