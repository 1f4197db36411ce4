//! NTLM (being written).
