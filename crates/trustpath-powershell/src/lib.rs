//! PowerShell text as PowerShell sees it.
//!
//! * [`tokenize`]: a tokenizer that resolves backtick escapes, both quote styles and the
//!   Unicode quote and dash look-alikes PowerShell accepts.
//! * [`commands`]: the commands a script block, module log payload or process command line
//!   runs, with canonical cmdlet and parameter names, through the obfuscation PowerShell
//!   resolves itself (case, backticks, parameter abbreviations, splatting, aliases defined
//!   in the script, the call operator, `iex`, `-EncodedCommand`, `cmd /c`). AN1052 matches
//!   on these rather than on raw text.
//! * [`pipeline_details`]: the invocations in module-logging text (4103 `Payload`, 800).
//! * [`may_name_cmdlet`]: a cheap test that lets callers skip [`commands`] on text that
//!   cannot name a cmdlet (most process command lines).
//! * [`quote`] / [`command_line`]: safe single-quoted literals for the rollback commands
//!   trustpath prints.

mod cmdlets;
mod command;
mod details;
mod expr;
mod precheck;
mod quote;
mod token;

pub use cmdlets::{KNOWN, KnownCmdlet, find as find_known, resolve_param};
pub use command::{Invocation, commands, decode_encoded_command};
pub use details::pipeline_details;
pub use precheck::may_name_cmdlet;
pub use quote::{command_line, comment_text, is_unsafe_in_line, quote};
pub use token::{Token, is_dash, tokenize};
