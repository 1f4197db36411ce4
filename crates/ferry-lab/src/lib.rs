//! ferry-lab: loopback servers for tests.
