package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/image"
	"github.com/lxmgr/lxmgr/instance"
)

// serverKeys are the server config keys and what each means.
var serverKeys = map[string]string{
	"images.debian.mirror": "Debian mirror URL debootstrap uses to build debian/* images (default: debootstrap's own)",
	"instances.privileged": "policy for privileged guests: allow, warn (default: allowed and logged) or deny",
}

func (d *daemon) serverGet(w http.ResponseWriter, r *http.Request) {
	var cfg map[string]string
	err := d.db.Transaction(r.Context(), func(tx *db.Tx) error {
		var err error
		cfg, err = tx.ConfigGet(r.Context())
		return err
	})
	if err != nil {
		errorResponse(w, err)
		return
	}
	var uts unix.Utsname
	unix.Uname(&uts)
	host, _ := os.Hostname()
	out := api.Server{
		APIExtensions: []string{"instances", "container_exec_recording"},
		APIStatus:     "stable", APIVersion: "1.0", Auth: "trusted", AuthMethods: []string{"unix"},
		Config: cfg,
		Environment: api.ServerEnvironment{
			Architectures: []string{image.HostArchitecture()}, Driver: "lxc", DriverVersion: instance.Version(),
			Kernel: unix.ByteSliceToString(uts.Sysname[:]), KernelVersion: unix.ByteSliceToString(uts.Release[:]),
			Server: "lxmgr", ServerName: host, ServerPid: os.Getpid(), ServerVersion: version, StorageDriver: "dir",
		},
	}
	syncResponseETag(w, out, etagOf(cfg))
}

// serverPatch sets or (with an empty value) unsets server config keys.
func (d *daemon) serverPatch(w http.ResponseWriter, r *http.Request) { d.serverUpdate(w, r, false) }

// serverPut replaces the server config.
func (d *daemon) serverPut(w http.ResponseWriter, r *http.Request) { d.serverUpdate(w, r, true) }

func (d *daemon) serverUpdate(w http.ResponseWriter, r *http.Request, replace bool) {
	var req struct {
		Config map[string]string `json:"config"`
	}
	if err := decodeBody(r, &req); err != nil {
		errorResponse(w, err)
		return
	}
	for k, v := range req.Config {
		if _, ok := serverKeys[k]; !ok {
			errorResponse(w, fmt.Errorf("%w: unknown server config key %q", api.ErrInvalid, k))
			return
		}
		if k == "instances.privileged" && v != "" && !privilegedPolicies[v] {
			errorResponse(w, fmt.Errorf("%w: server config key %q: %q is not allow, warn or deny", api.ErrInvalid, k, v))
			return
		}
		if strings.ContainsAny(v, "\n\r\x00") {
			errorResponse(w, fmt.Errorf("%w: server config key %q: value contains a newline", api.ErrInvalid, k))
			return
		}
	}
	err := d.db.Transaction(r.Context(), func(tx *db.Tx) error {
		cur, err := tx.ConfigGet(r.Context())
		if err != nil {
			return err
		}
		if err := checkETag(r, etagOf(cur)); err != nil {
			return err
		}
		if replace {
			for k := range cur {
				if _, ok := req.Config[k]; !ok {
					req.Config[k] = ""
				}
			}
		}
		for k, v := range req.Config {
			if err := tx.ConfigSet(r.Context(), k, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		errorResponse(w, err)
		return
	}
	emptySync(w)
}
