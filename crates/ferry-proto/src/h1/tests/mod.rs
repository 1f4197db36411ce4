//! Tests of the framing rules, the encoders and the body decoder, a file
//! each; the head parser's and the request side's are beside their code.

mod decode;
mod encode;
mod framing;
