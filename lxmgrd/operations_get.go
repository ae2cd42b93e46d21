package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lxmgr/lxmgr/api"
)

// operationsGet lists operations grouped by status, as LXD does.
func (d *daemon) operationsGet(w http.ResponseWriter, r *http.Request) {
	rec := recursion(r)
	urls := map[string][]string{}
	objs := map[string][]api.Operation{}
	for _, op := range d.ops.list() {
		s := op.snapshot()
		key := strings.ToLower(s.Status)
		urls[key] = append(urls[key], s.Location)
		objs[key] = append(objs[key], s)
	}
	if rec > 0 {
		syncResponse(w, objs)
		return
	}
	syncResponse(w, urls)
}

func (d *daemon) operationGet(w http.ResponseWriter, r *http.Request) {
	op, err := d.ops.get(r.PathValue("id"))
	if err != nil {
		errorResponse(w, err)
		return
	}
	syncResponse(w, op.snapshot())
}

// operationWait blocks until the operation is done or ?timeout= seconds
// pass (-1 or absent: no limit), then returns it.
func (d *daemon) operationWait(w http.ResponseWriter, r *http.Request) {
	op, err := d.ops.get(r.PathValue("id"))
	if err != nil {
		errorResponse(w, err)
		return
	}
	timeout := 24 * time.Hour
	if t, err := strconv.Atoi(r.URL.Query().Get("timeout")); err == nil && t >= 0 {
		timeout = time.Duration(t) * time.Second
	}
	op.wait(r.Context(), timeout)
	syncResponse(w, op.snapshot())
}

// operationDelete cancels a cancellable operation.
func (d *daemon) operationDelete(w http.ResponseWriter, r *http.Request) {
	op, err := d.ops.get(r.PathValue("id"))
	if err != nil {
		errorResponse(w, err)
		return
	}
	s := op.snapshot()
	if !s.MayCancel {
		errorResponse(w, fmt.Errorf("%w: operation %s cannot be cancelled", errBusy, s.ID))
		return
	}
	op.cancel()
	emptySync(w)
}
