// Package profiles owns the instance configuration language of lxmgr: the
// schema of config keys and their validators, device validation, the
// expansion of profiles into an instance's effective config and devices, and
// the built-in default profile.
//
// Everything here is a pure function: no I/O, no global state that changes.
// The daemon validates every user-supplied config and device map with this
// package before anything is written, so that nothing invalid (and no value
// containing a newline) can ever reach the database or a liblxc config.
package profiles
