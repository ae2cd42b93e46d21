// Package api holds the wire types and status codes of the lxmgr REST API.
//
// The shapes and JSON field names follow LXD's REST API so that existing LXD
// tooling can talk to lxmgrd. This package is the contract between the daemon
// and its clients: it depends on the standard library only.
package api
