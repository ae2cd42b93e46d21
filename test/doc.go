// Package test is lxmgr's end-to-end suite: it builds lxmgr and lxmgrd,
// starts the daemon with its own state directory inside a network namespace
// it creates, drives real containers through the CLI and the API, and
// removes everything it made (daemon, guests, mounts, namespace, directory)
// also when a test fails. It needs root and liblxc; elsewhere it skips.
package test
